import pytest


@pytest.fixture
def owner(django_user_model):
    """The analyst whose reports a service test makes."""
    return django_user_model.objects.create(username="service-owner")
