"""An MLServer custom runtime wrapping the same chemcore `Predictor`, for bench_inference.py (runs in
MLServer's own virtualenv, which the benchmark creates under var/). The package directory is the
model settings' `parameters.uri`."""

from mlserver import MLModel
from mlserver.codecs import NumpyCodec, StringCodec
from mlserver.types import InferenceRequest, InferenceResponse

from chemcore.predictor import Predictor


class ChemcoreRuntime(MLModel):
    async def load(self) -> bool:
        self._predictor = Predictor.load(self.settings.parameters.uri)
        self._predictor.predict_all(["CCO"])  # warm, as the inference server does
        return True

    async def predict(self, payload: InferenceRequest) -> InferenceResponse:
        smiles = StringCodec.decode_input(payload.inputs[0])
        batch = self._predictor.predict_all(smiles, batch_size=max(1, len(smiles)))
        outputs = [NumpyCodec.encode_output("value", batch.value)]
        if self._predictor.loaded.manifest.flavour == "sklearn":
            outputs.append(NumpyCodec.encode_output("uncertainty", batch.uncertainty))
        outputs.append(StringCodec.encode_output("error", [e or "" for e in batch.errors]))
        return InferenceResponse(model_name=self.name, model_version=self.version, outputs=outputs)
