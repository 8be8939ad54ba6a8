"""drf-spectacular post-processing: say in the schema what DRF does with empty query values."""


def empty_query_values_mean_absent(result, generator, request, public):
    """DRF reads an optional query parameter sent empty (`?role=`, `?page=`) as not sent,
    the way HTML forms submit an unset field: say so with `allowEmptyValue`."""
    for path in result.get("paths", {}).values():
        for operation in path.values():
            for parameter in operation.get("parameters", []):
                if parameter.get("in") == "query" and not parameter.get("required"):
                    parameter["allowEmptyValue"] = True
    return result
