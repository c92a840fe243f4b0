"""Cancer Alliances, trusts and their predecessors' codes."""

from __future__ import annotations

from rest_framework import serializers

from audits.models import Alliance, Trust, TrustSuccessor


class AllianceSerializer(serializers.ModelSerializer):
    class Meta:
        model = Alliance
        fields = ["code", "name"]


class TrustSerializer(serializers.ModelSerializer):
    alliance_name = serializers.CharField(source="alliance.name", read_only=True)

    class Meta:
        model = Trust
        fields = ["code", "name", "alliance", "alliance_name", "icb_code", "region", "active"]


class SuccessorSerializer(serializers.ModelSerializer):
    class Meta:
        model = TrustSuccessor
        fields = ["predecessor_code", "successor", "effective_from", "note"]
