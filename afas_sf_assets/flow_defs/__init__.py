"""The project's flows as Dagster components: a folder per flow whose `defs.yaml` names its component type
and its mapping file. `dg list defs` shows them, `dg check yaml` checks them, and
`dg scaffold defs afas_sf_assets.defs.components.SyncFlow <flow>` makes a new one."""
