//! Keyset pagination shared by every list: page sizes, pages and their cursors, and the parsing of
//! optional filters.

use crate::FieldError;

/// Items per page when the caller does not say.
pub const DEFAULT_PAGE_SIZE: u32 = 50;

/// The most items one page holds.
pub const MAX_PAGE_SIZE: u32 = 200;

/// One page of a keyset-paginated list; `next_cursor` fetches the next page, `None` on the last one.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

/// Cuts a page fetched with one item more than `limit` down to `limit`, with the cursor of its last item
/// when there is more.
pub fn paginate<T>(mut items: Vec<T>, limit: u32, cursor: impl Fn(&T) -> String) -> Page<T> {
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    let more = items.len() > limit;
    items.truncate(limit);
    let next_cursor = if more { items.last().map(cursor) } else { None };
    Page { items, next_cursor }
}

/// A page size: `None` is the default; 1 to [`MAX_PAGE_SIZE`].
pub fn page_size(limit: Option<u32>) -> Result<u32, FieldError> {
    match limit {
        None => Ok(DEFAULT_PAGE_SIZE),
        Some(n) if (1..=MAX_PAGE_SIZE).contains(&n) => Ok(n),
        Some(_) => Err(FieldError::new(
            "limit",
            format!("between 1 and {MAX_PAGE_SIZE}"),
        )),
    }
}

/// Parses an optional filter value, recording a field error for an unknown one.
pub(crate) fn parse_opt<T>(
    value: Option<String>,
    field: &str,
    parse: impl Fn(&str) -> Option<T>,
    expected: &str,
    errors: &mut Vec<FieldError>,
) -> Option<T> {
    let value = value?;
    let parsed = parse(value.trim());
    if parsed.is_none() {
        errors.push(FieldError::new(field, format!("one of {expected}")));
    }
    parsed
}

/// Parses a uuid cursor (the last id of the previous page).
pub(crate) fn decode_id_cursor(
    cursor: Option<String>,
    errors: &mut Vec<FieldError>,
) -> Option<uuid::Uuid> {
    let cursor = cursor?;
    let parsed = uuid::Uuid::parse_str(cursor.trim()).ok();
    if parsed.is_none() {
        errors.push(FieldError::new(
            "cursor",
            "not a cursor from a previous page",
        ));
    }
    parsed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_sizes_are_bounded() {
        assert_eq!(page_size(None), Ok(DEFAULT_PAGE_SIZE));
        assert_eq!(page_size(Some(MAX_PAGE_SIZE)), Ok(MAX_PAGE_SIZE));
        assert_eq!(page_size(Some(0)).unwrap_err().field, "limit");
        assert!(page_size(Some(MAX_PAGE_SIZE + 1)).is_err());
    }
}
