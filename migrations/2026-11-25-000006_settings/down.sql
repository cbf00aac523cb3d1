DROP INDEX subscriptions_pending;
DROP TABLE self_service_settings;
