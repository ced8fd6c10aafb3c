"""The Dagster layer: resources, assets, sensors and schedules. Thin: it calls flows and clients."""
