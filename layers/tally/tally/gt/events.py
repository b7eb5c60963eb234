"""The two Lambda events and the consolidation payload, as pydantic models.

Parsing is lenient where Ground Truth is inconsistent (see ``docs`` in the README): ``version`` is not
validated, ``labelCategories`` may be null or absent, ``datasetObjectId`` may arrive as a number,
``annotationData`` carries either ``content`` or ``s3Uri`` (the AWS recipe's ``s3uri`` is accepted
too), and unknown keys are ignored.
"""

from __future__ import annotations

from typing import Any, ClassVar, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ..errors import EventError

__all__ = [
    "Annotation",
    "AnnotationData",
    "ConsolidationRequest",
    "DataObject",
    "DatasetObject",
    "PreAnnotationRequest",
    "describe_validation_error",
    "job_name_from_arn",
]


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True, frozen=True)


class _Event(_Model):
    """A Lambda event: parsed with :meth:`parse`, which names the fields at fault but not their values."""

    _kind: ClassVar[str] = "event"

    @classmethod
    def parse(cls, event: Any) -> Self:
        """Validate a raw event, raising :class:`EventError` with a readable reason."""
        try:
            return cls.model_validate(event)
        except ValidationError as exc:
            raise EventError(f"{cls._kind} rejected: {describe_validation_error(exc)}") from exc


class Payload(_Model):
    s3_uri: str = Field(alias="s3Uri", min_length=1)


class ConsolidationRequest(_Event):
    """The event Ground Truth sends to the annotation-consolidation Lambda."""

    _kind: ClassVar[str] = "consolidation event"

    label_attribute_name: str = Field(alias="labelAttributeName", min_length=1)
    payload: Payload
    labeling_job_arn: str | None = Field(default=None, alias="labelingJobArn")
    label_categories: list[str] | None = Field(default=None, alias="labelCategories")
    role_arn: str | None = Field(default=None, alias="roleArn")
    output_config: str | None = Field(default=None, alias="outputConfig")
    kms_key_id: str | None = Field(default=None, alias="kmsKeyId")
    max_workers_per_object: int | None = Field(default=None, alias="maxHumanWorkersPerDataObject")

    @property
    def job_name(self) -> str:
        """``labeling-job/<name>`` as Ground Truth writes it in ``job-name``."""
        return job_name_from_arn(self.labeling_job_arn) or f"labeling-job/{self.label_attribute_name}"


class AnnotationData(_Model):
    model_config = ConfigDict(extra="allow", populate_by_name=True, frozen=True)

    content: str | None = None
    s3_uri: str | None = Field(default=None, alias="s3Uri")
    s3_uri_recipe: str | None = Field(default=None, alias="s3uri")

    @property
    def uri(self) -> str | None:
        return self.s3_uri or self.s3_uri_recipe

    def as_received(self) -> dict[str, Any]:
        """The ``annotationData`` object exactly as the payload had it (strings untouched)."""
        return self.model_dump(by_alias=True, exclude_unset=True)


class Annotation(_Model):
    worker_id: str = Field(alias="workerId")
    annotation_data: AnnotationData = Field(alias="annotationData")


class DataObject(_Model):
    s3_uri: str | None = Field(default=None, alias="s3Uri")
    content: str | None = None


class DatasetObject(_Model):
    """One element of the consolidation payload list."""

    dataset_object_id: str = Field(alias="datasetObjectId", min_length=1)
    data_object: DataObject = Field(default_factory=DataObject, alias="dataObject")
    annotations: list[Annotation] = Field(default_factory=list)

    @field_validator("dataset_object_id", mode="before")
    @classmethod
    def _id_as_text(cls, value: Any) -> Any:
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
        return value


class PreAnnotationRequest(_Event):
    """The event Ground Truth sends to the pre-annotation Lambda: the whole manifest line."""

    _kind: ClassVar[str] = "pre-annotation event"

    data_object: dict[str, Any] = Field(alias="dataObject")
    labeling_job_arn: str | None = Field(default=None, alias="labelingJobArn")


def describe_validation_error(exc: ValidationError) -> str:
    """A one-line reason that names the fields but never echoes their values."""
    parts = []
    for err in exc.errors(include_input=False, include_url=False):
        where = ".".join(str(p) for p in err["loc"]) or "(root)"
        parts.append(f"{where}: {err['msg']}")
    return "; ".join(parts)


def job_name_from_arn(arn: str | None) -> str | None:
    """``arn:aws:sagemaker:r:a:labeling-job/name`` → ``labeling-job/name``."""
    if not arn or ":" not in arn:
        return None
    resource = arn.rsplit(":", 1)[1]
    return resource if resource.startswith("labeling-job/") else None
