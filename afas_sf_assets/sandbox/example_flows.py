"""`afas-sf demo` and `afas-sf dev` on the sandboxes run the example flows (mappings/examples) too: one
declared by YAML alone each way. They run on a mapping folder of their own, in the sandboxes' directory,
so the shipped folder stays as users get it.

Kept free of the package's other modules: the folder is chosen (AFAS_SF_MAPPINGS) before any of them reads it.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

EXAMPLES = ("projects.yaml", "shop_accounts.yaml")


def use_example_flows(directory: Path) -> Path:
    """The mapping folder in use plus the example flows, as `directory`/mappings (made afresh each time);
    AFAS_SF_MAPPINGS names it from here on."""
    shipped = Path(os.environ.get("AFAS_SF_MAPPINGS") or Path(__file__).resolve().parents[2] / "mappings")
    folder = directory.resolve() / "mappings"
    if folder == shipped.resolve():
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    for path in shipped.glob("*.yaml"):
        shutil.copy(path, folder / path.name)
    for name in EXAMPLES:
        if (shipped / "examples" / name).is_file():
            shutil.copy(shipped / "examples" / name, folder / name)
    os.environ["AFAS_SF_MAPPINGS"] = str(folder)
    return folder
