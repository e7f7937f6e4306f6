"""The stock import's rows (items.models imports them, so Django finds them)."""

import uuid

from django.db import models
from django.utils import timezone


class ImportMapping(models.Model):
    """A partner's last column mapping (header → field): the next upload starts from it."""

    partner = models.OneToOneField(
        "partners.Partner", on_delete=models.CASCADE, related_name="import_mapping"
    )
    columns = models.JSONField(default=dict, help_text="A header (lower case) → a field name.")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        app_label = "items"

    def __str__(self):
        return f"Import mapping of {self.partner_id}"


class StockImport(models.Model):
    """One uploaded file and its background job (items.jobs), which first checks every
    row (validating) and, once the partner asks, imports them (importing). The job's state
    is on this row: due from job_due_at, held until job_locked_until, nudged at
    job_nudged_at; `position` is the last row number the current phase has done."""

    class Status(models.TextChoices):
        MAPPING = "mapping"
        VALIDATING = "validating"
        VALIDATED = "validated"
        IMPORTING = "importing"
        IMPORTED = "imported"

    RUNNING = (Status.VALIDATING, Status.IMPORTING)

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    partner = models.ForeignKey(
        "partners.Partner", on_delete=models.CASCADE, related_name="stock_imports"
    )
    livemode = models.BooleanField(help_text="The dashboard's mode at the upload.")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.MAPPING)
    created_at = models.DateTimeField(default=timezone.now)

    # The file as read.
    filename = models.CharField(max_length=255)
    file_format = models.CharField(max_length=40, help_text="e.g. CSV (semicolons, UTF-8), XLSX")
    header = models.JSONField(default=list, help_text="The first row's column names.")
    row_count = models.PositiveIntegerField()
    # The column mapping used: one field name (or "") per column of the header.
    mapping = models.JSONField(default=list)
    # Values for rows that leave a field empty (shippingCost, autoPublishTradera).
    defaults = models.JSONField(default=dict)
    # External ids on more than one row (id → row numbers): all those rows are invalid.
    duplicates = models.JSONField(default=dict)

    # Progress of the current phase, and each phase's counts (outcome → rows).
    position = models.PositiveIntegerField(default=0)
    creates_ahead = models.PositiveIntegerField(default=0)
    check_counts = models.JSONField(default=dict)
    result_counts = models.JSONField(default=dict)
    validated_at = models.DateTimeField(null=True, blank=True)
    import_started_at = models.DateTimeField(null=True, blank=True)
    imported_at = models.DateTimeField(null=True, blank=True)

    job_due_at = models.DateTimeField(null=True, blank=True)
    job_locked_until = models.DateTimeField(null=True, blank=True)
    job_nudged_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        app_label = "items"
        indexes = [
            models.Index(fields=["partner", "livemode", "-created_at"]),
            models.Index(
                fields=["job_due_at"],
                condition=models.Q(job_due_at__isnull=False),
                name="stock_import_job_due",
            ),
        ]

    def __str__(self):
        return f"Import {self.id} ({self.status})"

    @property
    def is_running(self) -> bool:
        return self.status in self.RUNNING


class ImportRow(models.Model):
    """One data row of the file, stored at the upload so a crash loses nothing: its cells,
    then what the check said (check_*) and what the import did (outcome, item_id, error).
    `number` is the row's line in the file (the header is line 1)."""

    stock_import = models.ForeignKey(StockImport, on_delete=models.CASCADE, related_name="rows")
    number = models.PositiveIntegerField()
    cells = models.JSONField()
    external_id = models.CharField(max_length=255, blank=True)
    check_outcome = models.CharField(max_length=10, blank=True)
    check_error = models.JSONField(null=True, blank=True)
    outcome = models.CharField(max_length=10, blank=True)
    item_id = models.UUIDField(null=True, blank=True)
    error = models.JSONField(null=True, blank=True)

    class Meta:
        app_label = "items"
        constraints = [
            models.UniqueConstraint(
                fields=["stock_import", "number"], name="import_row_number_unique"
            )
        ]

    def __str__(self):
        return f"{self.stock_import_id} row {self.number}"
