"""API tokens: list, create, revoke."""

from __future__ import annotations

from django.utils.cache import patch_cache_control
from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.request import Request
from rest_framework.response import Response

from accounts import roles
from accounts.models import ApiToken
from accounts.services import client_ip, create_token, revoke_token
from api.permissions import require
from api.serializers.tokens import NewTokenSerializer, TokenSerializer
from api.views.base import CachingMixin, Via


class TokenList(CachingMixin, generics.ListAPIView):
    """GET: your API tokens (never their keys). POST {name}: a new token; its key is in this answer only."""

    serializer_class = TokenSerializer
    filter_backends: list = []
    csv_filename = "tokens"

    def get_queryset(self):
        user = self.request.user
        if not user.is_authenticated:  # get() and post() have turned anonymous callers away
            return ApiToken.objects.none()
        return ApiToken.objects.filter(user=user).order_by("-created_at", "-pk")

    def get(self, request, *args, **kwargs):
        require(request, roles.can_hold_tokens(request.user), "")
        return super().get(request, *args, **kwargs)

    @extend_schema(request=TokenSerializer, responses={201: NewTokenSerializer})
    def post(self, request: Request) -> Response:
        require(request, roles.can_hold_tokens(request.user), "")
        form = TokenSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        token, key = create_token(
            user=request.user, name=form.validated_data["name"], via=Via.API, ip=client_ip(request)
        )
        response = Response({**TokenSerializer(token).data, "key": key}, status=status.HTTP_201_CREATED)
        patch_cache_control(response, no_store=True)
        return response


class TokenDetail(CachingMixin, generics.RetrieveDestroyAPIView):
    """One of your tokens. DELETE revokes it for good (it stays listed, marked revoked)."""

    serializer_class = TokenSerializer
    lookup_url_kwarg = "token_id"

    def get_queryset(self):
        user = self.request.user
        if not user.is_authenticated:  # get_object() has turned anonymous callers away
            return ApiToken.objects.none()
        return ApiToken.objects.filter(user=user)

    def get_object(self):
        require(self.request, roles.can_hold_tokens(self.request.user), "")
        return super().get_object()

    @extend_schema(responses={200: TokenSerializer})
    def delete(self, request: Request, *args, **kwargs) -> Response:
        token = revoke_token(token=self.get_object(), by=request.user, via=Via.API, ip=client_ip(request))
        return Response(TokenSerializer(token).data)
