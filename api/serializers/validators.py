"""Validators the serializers share."""

from django.core.validators import RegexValidator

# Text that PostgreSQL can store (no NUL characters); also tells the schema's clients so.
NO_NUL = RegexValidator(r"^[^\x00]*$", "Text without NUL characters.")
