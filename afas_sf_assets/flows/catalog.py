"""The catalog flows: categories first, then products (simple, configurable, variants, images), then relations."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from afas_sf_assets.afas.errors import AfasError
from afas_sf_assets.afas.models import FileDownload
from afas_sf_assets.flows.common import reference_table, synced
from afas_sf_assets.flows.rows import AfasItem, AfasItemGroup, AfasItemRelation
from afas_sf_assets.salesforce.client import COLLECTION_SIZE, UpsertOutcome
from afas_sf_assets.sync.flow import Flow, FlowContext, Work
from afas_sf_assets.sync.report import Failure
from afas_sf_assets.sync.state import LedgerEntry, RecordStatus

IMAGES_LEDGER = "products.images"
# Salesforce id prefixes: what the images ledger holds, a version (new) or a document (before).
CONTENT_VERSION_PREFIX, CONTENT_DOCUMENT_PREFIX = "068", "069"
_EXTENSIONS = {"image/png": "png", "image/jpeg": "jpg", "image/gif": "gif", "image/webp": "webp"}


def _groups(ctx: FlowContext) -> dict[str, dict[str, Any]]:
    return reference_table(ctx, "AfasSf_ItemGroups", "GroupCode")


def is_commerce(ctx: FlowContext) -> bool:
    return ctx.org_has("ProductCategory")


# -- categories -------------------------------------------------------------------------------------


def _plain_org(ctx: FlowContext) -> str | None:
    if is_commerce(ctx):
        return None
    return "this org has no ProductCategory (no Commerce); item groups become Product2.Family, set by products"


def place_in_tree(ctx: FlowContext, works: list[Work]) -> None:
    """Parents are written before their children, in one catalog; a child whose parent is missing waits."""
    groups = _groups(ctx)
    catalog = ctx.mapping.options.get("catalog", "AFAS")
    if not ctx.dry_run and "catalog_ready" not in ctx.cache:
        outcome = ctx.salesforce.upsert(
            "ProductCatalog", "AFAS_Catalog_Key__c", [{"AFAS_Catalog_Key__c": catalog, "Name": catalog}]
        )[0]
        if not outcome.success:
            for work in works:
                work.waiting_for = f"catalog {catalog} could not be created: {outcome.error_code}"
            return
        ctx.cache["catalog_ready"] = True
    in_batch = {w.key for w in works}
    parents = [str(w.row.get("ParentGroupCode")) for w in works if w.row.get("ParentGroupCode")]
    present = synced(ctx, "categories", parents)
    for work in works:
        assert work.record is not None
        work.record.always["Catalog"] = {"AFAS_Catalog_Key__c": catalog}
        parent = work.row.get("ParentGroupCode")
        depth, current, visited = 0, parent, set()
        while current and current in groups and current not in visited:
            visited.add(current)
            depth += 1
            current = groups[current].get("ParentGroupCode")
        work.write_pass = depth
        if parent:
            if parent not in in_batch and parent not in present:
                work.waiting_for = f"parent category {parent} is not in Salesforce yet"
            work.record.always["ParentCategory"] = {"AFAS_Group_Code__c": str(parent).upper()}


CATEGORIES = Flow(
    name="categories",
    mapping="categories.yaml",
    row_model=AfasItemGroup,
    rules=(place_in_tree,),
    skip_when=_plain_org,
    extra_requirements=lambda ctx: {
        "ProductCatalog": ["Name", "AFAS_Catalog_Key__c"],
        "ProductCategory": ["CatalogId", "ParentCategoryId"],
    },
    writes_also=("ProductCatalog", "ProductCategory"),
    description="AFAS item groups → ProductCategory (Commerce org) or Product2.Family values (plain org).",
)


# -- products ---------------------------------------------------------------------------------------


def family_from_category(ctx: FlowContext, works: list[Work]) -> None:
    if is_commerce(ctx) or not ctx.mapping.options.get("family_from_category", True):
        return
    groups = _groups(ctx)
    for work in works:
        group = groups.get(str(work.row.get("ItemGroup")))
        assert work.record is not None
        work.record.always["Family"] = group["Description"] if group else work.row.get("ItemGroup")


def variation_structure(ctx: FlowContext, works: list[Work]) -> None:
    """Configurable parents go first; each variant links to its parent, or waits until the parent is there."""
    commerce = is_commerce(ctx)
    in_batch = {w.key for w in works if w.row.get("ItemKind") == "configurable"}
    parents = [str(w.row["ParentItemCode"]) for w in works if w.row.get("ParentItemCode")]
    present = synced(ctx, "products", parents)
    for work in works:
        assert work.record is not None
        kind = work.row.get("ItemKind") or "simple"
        if commerce:
            # Salesforce fixes a product's class when it is created; an update may not send it.
            work.record.create_only["ProductClass"] = {
                "configurable": "VariationParent",
                "variant": "Variation",
            }.get(kind, "Simple")
        parent = work.row.get("ParentItemCode")
        if kind == "variant" and parent:
            work.write_pass = 1
            work.record.always["AFAS_Parent_Item__r"] = {"AFAS_Item_Code__c": parent}
            if parent not in in_batch and parent not in present:
                work.waiting_for = f"configurable item {parent} is not in Salesforce yet"


def _download_images(ctx: FlowContext, works: list[Work]) -> list[FileDownload | AfasError]:
    """Each product's image, or why it could not be read, in order: as many downloads at once as the AFAS
    client lets through (AFAS takes 8 calls in flight per token), since at WAN latency one at a time
    made the images most of a first products sync."""

    def download(work: Work) -> FileDownload | AfasError:
        try:
            return ctx.afas.get_image(work.row["ImageId"])
        except AfasError as exc:
            return exc

    if len(works) < 2:
        return [download(work) for work in works]
    with ThreadPoolExecutor(max_workers=ctx.afas.settings.max_in_flight) as pool:
        return list(pool.map(download, works))


def sync_images(ctx: FlowContext, written: list[Work]) -> None:
    """A changed image becomes a new ContentVersion of the product's document; an unchanged one costs nothing.
    The ledger keeps the version's id: its document is looked up only when a newer version is due."""
    with_image = [w for w in written if w.row.get("ImageId")]
    if not with_image:
        return
    known = ctx.state.entries(IMAGES_LEDGER, [w.key for w in with_image])
    todo: list[tuple[Work, str]] = []
    for work in with_image:
        identity = f"{work.row['ImageId']}|{work.row.get('ImageModifiedDate')}"
        entry = known.get(work.key)
        if entry is None or entry.payload_hash != identity or entry.status is not RecordStatus.SYNCED:
            todo.append((work, identity))
    if not todo:
        return
    version_keys = {work.key: f"{work.key}|{identity}"[:80] for work, identity in todo}
    documents = _documents(ctx, [known[w.key].target_id for w, _ in todo if w.key in known])
    sending: list[tuple[Work, str]] = []
    outcomes: list[UpsertOutcome] = []
    logged: list[dict[str, Any]] = []
    # A collections call's worth at a time, downloaded then sent: the files of a whole batch never sit in
    # memory at once, so a run's peak does not follow its largest batch of images.
    for start in range(0, len(todo), COLLECTION_SIZE):
        chunk = todo[start : start + COLLECTION_SIZE]
        records = []
        for (work, identity), image in zip(chunk, _download_images(ctx, [w for w, _ in chunk]), strict=True):
            if isinstance(image, AfasError):
                # This product's image stays due; the others go on.
                code = f"AFAS_{image.status or type(image).__name__}"
                ctx.child_failed(work.key, Failure(work.key, "partial", code, "image", f"image download: {image}"))
                continue
            extension = _EXTENSIONS.get(image.mimetype or "", "bin")
            record: dict[str, Any] = {
                "AFAS_Image_Key__c": version_keys[work.key],
                "Title": str(work.row.get("Description") or work.key)[:255],
                "PathOnClient": f"{work.key}.{extension}",
                "VersionData": base64.b64encode(image.data).decode("ascii"),
            }
            entry = known.get(work.key)
            document = documents.get(entry.target_id or "") if entry else None
            if document:
                record["ContentDocumentId"] = document
            else:
                record["FirstPublishLocationId"] = work.target_id
            records.append(record)
            sending.append((work, identity))
        if records:
            outcomes += _uploaded_once(ctx, ctx.salesforce.upsert("ContentVersion", "AFAS_Image_Key__c", records))
            # The file itself stays out of the activity log: it is no personal data, only bulk.
            logged += [{k: v for k, v in record.items() if k != "VersionData"} for record in records]
    ctx.state.save(
        IMAGES_LEDGER,
        [
            LedgerEntry(work.key, outcome.id, identity, RecordStatus.SYNCED)
            for (work, identity), outcome in zip(sending, outcomes, strict=True)
            if outcome.success and outcome.id
        ],
    )
    ctx.children_written("images", "ContentVersion", [w.key for w, _ in sending], logged, outcomes)


def _documents(ctx: FlowContext, ids: list[str | None]) -> dict[str, str]:
    """The document of each version id the ledger holds (a ledger from before holds the document's own id)."""
    documents = {i: i for i in ids if i and i.startswith(CONTENT_DOCUMENT_PREFIX)}
    versions = [i for i in ids if i and i.startswith(CONTENT_VERSION_PREFIX)]
    for row in ctx.salesforce.query_in(
        "SELECT Id, ContentDocumentId FROM ContentVersion WHERE Id IN {values}", versions
    ):
        documents[row["Id"]] = row["ContentDocumentId"]
    return documents


def _uploaded_once(ctx: FlowContext, outcomes: list[UpsertOutcome]) -> list[UpsertOutcome]:
    """A version key Salesforce already holds (sent before a ledger was lost) matches an existing version, which
    refuses the create-only PathOnClient: that file is there, so the outcome is that version. Asked only then,
    so a first load costs no look-up, and a file is never uploaded twice."""
    refused = [o.external_id for o in outcomes if o.error_code == "INVALID_FIELD_FOR_INSERT_UPDATE"]
    if not refused:
        return outcomes
    there = ctx.existing_ids("ContentVersion", "AFAS_Image_Key__c", refused)
    return [
        UpsertOutcome(o.external_id, id=there[o.external_id.lower()], created=False)
        if o.error_code == "INVALID_FIELD_FOR_INSERT_UPDATE" and o.external_id.lower() in there
        else o
        for o in outcomes
    ]


def commerce_links(ctx: FlowContext, written: list[Work]) -> None:
    """In a Commerce org: each product in its category, each variant's attributes on ProductAttribute."""
    if not written or not is_commerce(ctx):
        return
    links = [
        {
            "AFAS_Category_Key__c": f"{w.key}|{w.row['ItemGroup']}"[:80],
            "ProductCategory": {"AFAS_Group_Code__c": str(w.row["ItemGroup"]).upper()},
            "Product": {"AFAS_Item_Code__c": w.key},
            "IsPrimaryCategory": True,
        }
        for w in written
        if w.row.get("ItemGroup")
    ]
    attributes = [
        {
            "AFAS_Attribute_Key__c": w.key,
            "Product": {"AFAS_Item_Code__c": w.key},
            "VariantParent": {"AFAS_Item_Code__c": w.row["ParentItemCode"]},
            "AFAS_Size__c": w.row.get("Size"),
            "AFAS_Colour__c": w.row.get("Colour"),
        }
        for w in written
        if w.row.get("ItemKind") == "variant"
    ]
    for kind, sobject, field, records in (
        ("category_links", "ProductCategoryProduct", "AFAS_Category_Key__c", links),
        ("attributes", "ProductAttribute", "AFAS_Attribute_Key__c", attributes),
    ):
        if records:
            outcomes = ctx.salesforce.upsert(sobject, field, records)
            parents = [r["Product"]["AFAS_Item_Code__c"] for r in records]
            ctx.children_written(kind, sobject, parents, records, outcomes)


def _product_requirements(ctx: FlowContext) -> Mapping[str, list[str]]:
    needs: dict[str, list[str]] = {
        "Product2": ["AFAS_Parent_Item__c"],
        "ContentVersion": ["Title", "PathOnClient", "VersionData", "AFAS_Image_Key__c", "FirstPublishLocationId"],
    }
    if is_commerce(ctx):
        needs["Product2"].append("ProductClass")
        needs["ProductCategoryProduct"] = ["ProductCategoryId", "ProductId", "AFAS_Category_Key__c"]
        needs["ProductAttribute"] = ["ProductId", "VariantParentId", "AFAS_Attribute_Key__c"]
    else:
        needs["Product2"].append("Family")
    return needs


PRODUCTS = Flow(
    name="products",
    mapping="products.yaml",
    row_model=AfasItem,
    depends_on=("categories",),
    rules=(family_from_category, variation_structure),
    after_write=(sync_images, commerce_links),
    extra_requirements=_product_requirements,
    writes_also=("ContentVersion", "ProductCategory", "ProductCategoryProduct", "ProductAttribute"),
    deactivate={"IsActive": False},
    hash_also=("ImageId", "ImageModifiedDate"),
    reads_also=("AfasSf_ItemGroups",),
    description="AFAS items → Product2 by SKU: simple, configurable and variants, characteristics, images.",
)


# -- product relations --------------------------------------------------------------------------------


def needs_both_products(ctx: FlowContext, works: list[Work]) -> None:
    codes = list({str(w.row[f]) for w in works for f in ("ItemCode", "RelatedItemCode")})
    present = synced(ctx, "products", codes)
    for work in works:
        assert work.record is not None
        item, related = str(work.row["ItemCode"]), str(work.row["RelatedItemCode"])
        missing = [code for code in (item, related) if code not in present]
        if missing:
            work.waiting_for = f"product {', '.join(missing)} is not in Salesforce yet"
        work.record.always["Product__r"] = {"AFAS_Item_Code__c": item}
        work.record.always["Related_Product__r"] = {"AFAS_Item_Code__c": related}


PRODUCT_RELATIONS = Flow(
    name="product_relations",
    mapping="product_relations.yaml",
    row_model=AfasItemRelation,
    depends_on=("products",),
    rules=(needs_both_products,),
    extra_requirements=lambda ctx: {"AFAS_Product_Relation__c": ["Product__c", "Related_Product__c"]},
    description="AFAS item relations → AFAS_Product_Relation__c (cross-sell, up-sell, related).",
)

CATALOG_FLOWS = (CATEGORIES, PRODUCTS, PRODUCT_RELATIONS)
