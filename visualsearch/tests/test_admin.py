import pytest

from visualsearch.models import ModelVersion, ModelVersionStatus
from visualsearch.tasks import adapter_train_task

pytestmark = pytest.mark.django_db
URL = "/admin/visualsearch/modelversion/"


def test_train_button_reserves_a_version_and_hands_training_to_a_worker(admin_client, catalogue,
                                                                        django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = admin_client.post(URL + "train/")

    assert response.status_code == 302
    assert len(callbacks) == 1  # the Celery task is sent after the commit
    version = ModelVersion.objects.get(status=ModelVersionStatus.TRAINING)
    assert version.base_key == "effnet-lite1-avg-240"
    page = admin_client.get(URL).content.decode()
    assert version.key in page and "<progress" in page and "Train adapter from labelled photos" in page

    # the worker's task: the catalogue has no labelled photos, so the version fails with the reason shown
    assert adapter_train_task(version.id) == ModelVersionStatus.FAILED
    assert "labelled shopper photos" in admin_client.get(URL).content.decode()


def test_switch_action_refuses_a_version_without_vectors(admin_client, catalogue):
    from visualsearch.versions import model_version_register

    version = model_version_register(key="effnet-lite0-avg-288")

    response = admin_client.post(URL, {"action": "activate", "_selected_action": [version.id]}, follow=True)

    assert "has vectors for 0 of 8 images" in response.content.decode()
    assert ModelVersion.objects.get(is_active=True).key == "effnet-lite1-avg-240"


def test_train_url_ignores_get(admin_client):
    assert admin_client.get(URL + "train/").status_code == 302
    assert ModelVersion.objects.count() == 0
