"""Model zoo: building blocks, the FeatherFace network and its registry."""

from featherface.models.featherface import FeatherFace, FeatherFaceConfig
from featherface.models.registry import create_model, describe_model, list_models, model_config, register_model

__all__ = ["FeatherFace", "FeatherFaceConfig", "create_model", "describe_model", "list_models", "model_config", "register_model"]
