"""drf-spectacular post-processing: say in the schema what DRF does with empty query values."""

# DRF reads an optional query parameter sent empty (`?role=`) as not sent, the
# way HTML forms submit an unset field; `page=` is the exception (404, no such page).
EMPTY_MEANS_NOT_SENT_EXCEPT = {"page"}


def empty_query_values_mean_absent(result, generator, request, public):
    for path in result.get("paths", {}).values():
        for operation in path.values():
            for parameter in operation.get("parameters", []):
                if (
                    parameter.get("in") == "query"
                    and not parameter.get("required")
                    and parameter["name"] not in EMPTY_MEANS_NOT_SENT_EXCEPT
                ):
                    parameter["allowEmptyValue"] = True
    return result
