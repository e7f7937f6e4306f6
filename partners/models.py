import uuid
from typing import ClassVar

from django.contrib.auth.models import AbstractUser, BaseUserManager
from django.core.exceptions import ValidationError
from django.db import models


class Partner(models.Model):
    """An organisation (a car dismantler) that pushes items through the Integration API."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=200)
    is_active = models.BooleanField(
        default=True, help_text="An inactive partner's API keys and users are refused."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        return self.name


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def _create(self, email, password, **extra):
        user = self.model(email=self.normalize_email(email), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email, password=None, **extra):
        extra.setdefault("is_staff", False)
        extra.setdefault("is_superuser", False)
        return self._create(email, password, **extra)

    def create_superuser(self, email, password=None, **extra):
        extra.update(is_staff=True, is_superuser=True)
        return self._create(email, password, **extra)


class User(AbstractUser):
    """A person who logs in: a partner's user (partner set) or Rheo staff (is_staff)."""

    # The stubs cannot express a subclass dropping one of AbstractUser's fields.
    username = None  # type: ignore[assignment]
    email = models.EmailField(unique=True)
    partner = models.ForeignKey(
        Partner, null=True, blank=True, on_delete=models.CASCADE, related_name="users"
    )

    USERNAME_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = []
    # The stubs type this as Django's username-based UserManager; Django allows any manager
    # with create_user and create_superuser, and ours signs users up by email.
    objects: ClassVar[UserManager] = UserManager()  # type: ignore[assignment]

    def __str__(self):
        return self.email


class ApiKey(models.Model):
    class Mode(models.TextChoices):
        LIVE = "live"
        TEST = "test"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=100)
    mode = models.CharField(max_length=4, choices=Mode.choices)
    prefix = models.CharField(max_length=20, help_text="The key's first characters, for display.")
    digest = models.CharField(max_length=64, unique=True, help_text="SHA-256 of the key.")
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "API key"
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.name} ({self.prefix}…)"

    @property
    def livemode(self) -> bool:
        return self.mode == self.Mode.LIVE


class Plan(models.Model):
    """A subscription plan. Plans are data staff edit in admin, not code. A limit left empty
    is unlimited. Limits count per mode: test items and test keys have an allowance of the
    same size of their own, so test mode never uses up live limits (docs/management-api.md)."""

    code = models.SlugField(max_length=40, unique=True, help_text="Used by the API: e.g. pro")
    name = models.CharField(max_length=60)
    monthly_price_sek = models.DecimalField(max_digits=10, decimal_places=2, default=0)
    max_active_items = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Items in draft or active at once, per mode. Empty: unlimited.",
    )
    max_api_keys = models.PositiveIntegerField(
        null=True, blank=True, help_text="Unrevoked API keys, per mode. Empty: unlimited."
    )
    is_default = models.BooleanField(
        default=False,
        help_text="New partners start on it, and a cancelled subscription falls back to it "
        "at the end of its period. Exactly one plan is the default.",
    )
    is_public = models.BooleanField(
        default=True,
        help_text="Partners may choose it themselves; staff can put a partner on any plan.",
    )
    position = models.PositiveSmallIntegerField(default=100, help_text="Order in lists.")

    class Meta:
        ordering = ["position", "monthly_price_sek"]
        constraints = [
            models.UniqueConstraint(
                fields=["is_default"], condition=models.Q(is_default=True), name="one_default_plan"
            )
        ]

    def __str__(self):
        return self.name

    def clean(self):
        others = Plan.objects.exclude(pk=self.pk)
        if self.is_default and others.filter(is_default=True).exists():
            raise ValidationError(
                {"is_default": "Another plan is the default; make that one not the default first."}
            )
        if not self.is_default and self.pk and not others.filter(is_default=True).exists():
            raise ValidationError({"is_default": "One plan must stay the default."})


class Subscription(models.Model):
    """A partner's plan, in periods of one calendar month from `billing_cycle_anchor`.
    Every change goes through partners.subscriptions; a partner without a row is on the
    default plan.

    active: renews at each period's end, unless cancel_at_period_end, in which case it
    ends then. canceled: it ended; the partner is on the default plan (the row's plan)
    until it chooses a plan again."""

    class Status(models.TextChoices):
        ACTIVE = "active"
        CANCELED = "canceled"

    partner = models.OneToOneField(Partner, on_delete=models.CASCADE, related_name="subscription")
    plan = models.ForeignKey(Plan, on_delete=models.PROTECT, related_name="subscriptions")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    billing_cycle_anchor = models.DateTimeField(help_text="Periods start on this day of month.")
    current_period_start = models.DateTimeField()
    current_period_end = models.DateTimeField()
    cancel_at_period_end = models.BooleanField(default=False)
    ended_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [
            models.Index(
                fields=["current_period_end"],
                condition=models.Q(status="active"),
                name="subscription_period_due",
            )
        ]

    def __str__(self):
        return f"{self.partner}: {self.plan} ({self.status})"


class SubscriptionChange(models.Model):
    """The record of a subscription: every plan change, cancellation, resumption and end,
    by whom (a partner's user, staff, or Rheo itself when null)."""

    class Kind(models.TextChoices):
        STARTED = "started"
        PLAN_CHANGED = "plan_changed"
        CANCEL_SCHEDULED = "cancel_scheduled", "Cancel at period end"
        RESUMED = "resumed"
        ENDED = "ended"

    subscription = models.ForeignKey(Subscription, on_delete=models.CASCADE, related_name="changes")
    at = models.DateTimeField()
    kind = models.CharField(max_length=20, choices=Kind.choices)
    from_plan = models.ForeignKey(
        Plan, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    to_plan = models.ForeignKey(
        Plan, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    changed_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["subscription", "at"], name="subscription_change_at")]

    def __str__(self):
        return f"{self.get_kind_display()} at {self.at:%Y-%m-%d %H:%M}"


class BacklogToken(models.Model):
    """One of a partner's turns at a kind of background work (partners.backlog): the
    partner's due rows are its queue, and each token is a Celery message that does one
    row and then goes to the back of the broker's queue. `generation` is the message's
    number (a message whose number is not the row's is a duplicate or a stale one, and
    does nothing); `beat_at` when a message was last sent or ran (null: idle, none out)."""

    kind = models.CharField(max_length=16)
    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="+")
    slot = models.PositiveSmallIntegerField()
    generation = models.BigIntegerField(default=0)
    beat_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["kind", "partner", "slot"], name="backlog_token_unique")
        ]

    def __str__(self):
        return f"{self.kind} token {self.slot} of {self.partner_id}"
