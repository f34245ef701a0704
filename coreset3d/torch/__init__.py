"""Everything in coreset3d that needs a network (optional extra).

Point-cloud classifiers (:class:`PointNet`, :class:`DGCNN`, or any model
behind :class:`EncoderHead`), their training and evaluation, embeddings for
the selectors, per-sample scores for the scalar baselines, the class-balanced
calibration of a teacher (CSL) and the KD + RKD training of a student on a
coreset. Runs on CPU and uses CUDA when available (``device="auto"``).

Install with ``pip install "coreset3d[torch]"`` (after a CPU build of torch,
``pip install torch --index-url https://download.pytorch.org/whl/cpu``, on
machines without a GPU).
"""

try:
    import torch as _torch  # noqa: F401
    import tqdm as _tqdm  # noqa: F401
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        f"coreset3d.torch needs PyTorch and tqdm ({exc}). Install a CPU build of torch first "
        "(pip install torch --index-url https://download.pytorch.org/whl/cpu) or any CUDA "
        'build, then pip install "coreset3d[torch]".'
    ) from exc

from .._memory import keep_freed_memory
from ._augment import (
    Compose,
    Jitter,
    RandomPointDropout,
    RandomResample,
    RandomRotate,
    RandomScale,
    RandomTranslate,
    default_augmentation,
)
from ._calibrate import calibrate_head
from ._distill import distill, distillation_loss, kd_loss, rkd_angle_loss, rkd_distance_loss
from ._embed import extract_embeddings
from ._models import DGCNN, EncoderHead, PointNet, split_model
from ._scores import (
    area_under_margin,
    el2n_scores,
    entropy_scores,
    forgetting_events,
    head_gradnorm_scores,
    loss_scores,
    sample_scores,
)
from ._teacher import TeacherArtifacts, TeacherConfig, prepare_teacher
from ._train import TrainingHistory, evaluate, fit_classifier

__all__ = [
    # models
    "PointNet",
    "DGCNN",
    "EncoderHead",
    "split_model",
    # augmentation
    "Compose",
    "RandomScale",
    "RandomTranslate",
    "Jitter",
    "RandomRotate",
    "RandomPointDropout",
    "RandomResample",
    "default_augmentation",
    # training and evaluation
    "fit_classifier",
    "evaluate",
    "TrainingHistory",
    "extract_embeddings",
    "keep_freed_memory",
    # scores
    "sample_scores",
    "loss_scores",
    "entropy_scores",
    "el2n_scores",
    "head_gradnorm_scores",
    "forgetting_events",
    "area_under_margin",
    # calibration and distillation
    "calibrate_head",
    "distill",
    "distillation_loss",
    "kd_loss",
    "rkd_distance_loss",
    "rkd_angle_loss",
    # the cached teacher stage
    "prepare_teacher",
    "TeacherConfig",
    "TeacherArtifacts",
]
