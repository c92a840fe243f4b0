"""API tokens: listed without their keys; a new token's key is shown once."""

from __future__ import annotations

from rest_framework import serializers

from accounts.models import ApiToken
from api.serializers.validators import NO_NUL


class TokenSerializer(serializers.ModelSerializer):
    active = serializers.BooleanField(read_only=True)
    name = serializers.CharField(max_length=100, validators=[NO_NUL], help_text="What the key is for")

    class Meta:
        model = ApiToken
        fields = ["id", "name", "prefix", "active", "created_at", "last_used_at", "revoked_at"]
        read_only_fields = ["id", "prefix", "active", "created_at", "last_used_at", "revoked_at"]


class NewTokenSerializer(TokenSerializer):
    key = serializers.CharField(read_only=True, help_text="Shown this once: only its hash is kept")

    class Meta(TokenSerializer.Meta):
        fields = [*TokenSerializer.Meta.fields, "key"]
