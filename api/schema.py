"""drf-spectacular extensions: the token scheme."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class HashedTokenScheme(OpenApiAuthenticationExtension):
    target_class = "api.authentication.HashedTokenAuthentication"
    name = "tokenAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "A personal API key: `Authorization: Token <key>` or `Bearer <key>`.",
        }


ERRORS = {
    "400": "The query string or body is not valid: the answer names each field and what is wrong",
    "401": "Authentication is needed: sign in, or send 'Authorization: Token <key>'",
    "403": "Your role does not allow this (see the README's table of roles)",
    "404": "No such object (or page of results)",
    "406": "The format asked for (Accept header or ?format=) is not offered",
    "429": "Too many requests from this address (anonymous) or account: wait as Retry-After says",
}


def add_error_responses(result, generator, request, public):
    """Every operation may answer with the errors above, as JSON or CSV like its other answers."""
    components = result.setdefault("components", {}).setdefault("schemas", {})
    components["Error"] = {
        "type": "object",
        "description": "An error: 'detail', or field names with messages",
        "additionalProperties": True,
        "properties": {"detail": {"type": "string"}},
    }
    error = {"schema": {"$ref": "#/components/schemas/Error"}}
    for path in result.get("paths", {}).values():
        for method, operation in path.items():
            responses = operation.setdefault("responses", {})
            for code, description in ERRORS.items():
                responses.setdefault(
                    code,
                    {
                        "description": description,
                        "content": {"application/json": error, "text/csv": {"schema": {"type": "string"}}},
                    },
                )
            if method == "get":
                responses.setdefault("304", {"description": "Not modified: the ETag sent in If-None-Match is current"})
    return result
