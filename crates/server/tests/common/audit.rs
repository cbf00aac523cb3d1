//! The audit log as an administrator reads it through the API.

use super::App;
use serde_json::Value;
use std::time::Duration;

impl App {
    /// Every audit event, newest first, read page by page.
    pub async fn audit_events(&self, token: &str) -> Vec<Value> {
        let mut items = Vec::new();
        let mut path = "/api/v1/admin/audit?limit=500".to_owned();
        loop {
            let (status, page) = self.get(token, &path).await;
            assert_eq!(status, 200, "{page}");
            items.extend(page["items"].as_array().unwrap().iter().cloned());
            match page["next_cursor"].as_str() {
                Some(cursor) => path = format!("/api/v1/admin/audit?limit=500&cursor={cursor}"),
                None => return items,
            }
        }
    }

    /// Waits until there are events and the server has sealed every one (it seals every second; a write
    /// transaction open anywhere on the PostgreSQL server holds sealing back for a moment).
    pub async fn wait_until_sealed(&self, token: &str) -> Vec<Value> {
        for _ in 0..150 {
            let events = self.audit_events(token).await;
            if !events.is_empty() && events.iter().all(|e| e["sealed"] == true) {
                return events;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        panic!("the server did not seal the events within 30 s");
    }
}
