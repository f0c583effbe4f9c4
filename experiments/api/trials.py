"""/api/trials/<id>/…: what a trial's job calls, with its trial token and nothing else.

job (spec + parameters), dataset (CSV stream), report (intermediate value → prune?), heartbeat
(→ stop?), package (the model package, size-bounded), complete (final metrics), fail (a reason).
Once the trial is finished its token opens none of them (403, see `IsTrialJob`); a report that
races with the trial's end answers 409 and changes nothing.
"""

from __future__ import annotations

import io
import json
import math

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from portal.api.errors import error_body

from .. import datasets, trials
from ..models import Trial
from ..trial_job import STANDARDISATION_HEADER
from .authentication import IsTrialJob, TrialRateThrottle, TrialTokenAuthentication
from .experiments import Conflict, django_errors
from .serializers import (
    CompleteInputSerializer,
    FailInputSerializer,
    PruneSerializer,
    ReportInputSerializer,
    StopSerializer,
    TrialJobSerializer,
    TrialStateSerializer,
)

CONFLICT = OpenApiResponse(description="The trial ended while this request ran (or is not running): nothing changed.")
FINISHED = OpenApiResponse(description="The trial is finished (or the token is another trial's): it opens nothing.")
NOT_READY = OpenApiResponse(description="The trial's parameters are not there yet (the job started first): ask again.")


class TrialJobViewSet(viewsets.GenericViewSet):
    """The report-back endpoints of one trial's job (the trial comes from its token, never a lookup)."""

    queryset = Trial.objects.none()
    lookup_value_regex = r"\d+"
    authentication_classes = [TrialTokenAuthentication]
    permission_classes = [IsTrialJob]
    throttle_classes = [TrialRateThrottle]

    @property
    def trial(self):
        return self.request.auth

    def _data(self, serializer_class):
        data = serializer_class(data=self.request.data)
        data.is_valid(raise_exception=True)
        return data.validated_data

    @extend_schema(
        request=None,
        responses={200: TrialJobSerializer, 403: FINISHED, 409: CONFLICT, 503: NOT_READY},
        summary="The trial's job",
    )
    @action(detail=True, methods=["get"])
    def job(self, request, pk=None):
        try:
            return Response(trials.job_payload(self.trial, request.build_absolute_uri("/").rstrip("/")))
        except trials.TrialConflict as exc:
            raise Conflict(str(exc)) from None
        except trials.ParamsNotReady as exc:
            body = error_body(503, "not_ready", str(exc))
            return Response(body, status=status.HTTP_503_SERVICE_UNAVAILABLE, headers={"Retry-After": "1"})

    @extend_schema(
        request=None,
        responses={(200, "text/csv"): OpenApiTypes.BINARY, 403: FINISHED},
        summary="The training data as CSV (smiles,target), streamed",
        description="The `Dataset-Standardisation` header (JSON) gives the standardisation the model must "
        "record: `options`, and `standardised`, whether the SMILES already went through them (a library's "
        "did at ingest; a file's did not, so standardise them with those options before training).",
    )
    @action(detail=True, methods=["get"])
    def dataset(self, request, pk=None):
        experiment = self.trial.experiment
        dataset = experiment.spec["dataset"]
        try:
            standardisation = datasets.standardisation_of(experiment.team, dataset)
        except DjangoValidationError as exc:
            raise ValidationError(django_errors(exc)) from None
        body = datasets.stream_csv(experiment.team, dataset)
        response = StreamingHttpResponse(body, content_type="text/csv")
        response["Content-Disposition"] = f'attachment; filename="experiment-{experiment.pk}-dataset.csv"'
        response[STANDARDISATION_HEADER] = json.dumps(standardisation, sort_keys=True)
        return response

    @extend_schema(request=ReportInputSerializer, responses={200: PruneSerializer, 403: FINISHED, 409: CONFLICT})
    @action(detail=True, methods=["post"])
    def report(self, request, pk=None):
        """An intermediate value (e.g. the held-out metric after an epoch); the answer says whether to prune."""
        data = self._data(ReportInputSerializer)
        if not math.isfinite(data["value"]):
            raise ValidationError({"value": ["must be a finite number"]})
        try:
            prune = trials.report(self.trial, data["step"], data["value"])
        except trials.TrialConflict as exc:
            raise Conflict(str(exc)) from None
        return Response({"prune": prune})

    @extend_schema(request=None, responses={200: StopSerializer, 403: FINISHED})
    @action(detail=True, methods=["post"])
    def heartbeat(self, request, pk=None):
        """The job is alive; `stop` is true when its trial finished during this call (cancelled, timed
        out, ...); after that, like every endpoint, it answers 403."""
        return Response({"stop": trials.heartbeat(self.trial)})

    @extend_schema(
        request={"application/octet-stream": OpenApiTypes.BINARY},
        responses={200: TrialStateSerializer, 400: OpenApiResponse(description="Not a valid package"),
                   403: FINISHED, 409: CONFLICT, 413: OpenApiResponse(description="Larger than the size limit")},
        summary="Upload the trial's model package (a .tar.gz, as the body)",
    )  # fmt: skip
    @action(detail=True, methods=["put", "post"])
    def package(self, request, pk=None):
        length = request.META.get("CONTENT_LENGTH") or ""
        if length.isdigit() and int(length) > settings.TRIAL_MAX_PACKAGE_BYTES:
            message = f"The package is larger than the limit of {settings.TRIAL_MAX_PACKAGE_BYTES} bytes."
            return Response(error_body(413, "too_large", message), status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE)
        try:
            trial = trials.store_package(self.trial, request.stream or io.BytesIO())
        except trials.TrialConflict as exc:
            raise Conflict(str(exc)) from None
        except DjangoValidationError as exc:
            raise ValidationError({"package": exc.messages}) from None
        return Response(TrialStateSerializer(trial).data)

    @extend_schema(request=CompleteInputSerializer, responses={200: TrialStateSerializer, 403: FINISHED, 409: CONFLICT})
    @action(detail=True, methods=["post"])
    def complete(self, request, pk=None):
        """Final metrics; the objective value(s) are taken from them by the spec's metric names."""
        data = self._data(CompleteInputSerializer)
        try:
            trial = trials.complete(self.trial, data["metrics"])
        except trials.TrialConflict as exc:
            raise Conflict(str(exc)) from None
        except DjangoValidationError as exc:
            raise ValidationError(django_errors(exc)) from None
        return Response(TrialStateSerializer(trial).data)

    @extend_schema(request=FailInputSerializer, responses={200: TrialStateSerializer, 403: FINISHED, 409: CONFLICT})
    @action(detail=True, methods=["post"])
    def fail(self, request, pk=None):
        """The job failed; the trial is retried if the spec allows."""
        data = self._data(FailInputSerializer)
        try:
            trial = trials.fail(self.trial, data["reason"])
        except trials.TrialConflict as exc:
            raise Conflict(str(exc)) from None
        return Response(TrialStateSerializer(trial).data)
