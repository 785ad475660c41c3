"""Provider identity: OTel ``gen_ai.provider.name`` well-known values plus legacy spellings seen in use."""

from __future__ import annotations

CANONICAL = frozenset(
    {
        "openai",
        "anthropic",
        "gcp.gemini",
        "gcp.vertex_ai",
        "gcp.gen_ai",
        "aws.bedrock",
        "azure.ai.openai",
        "azure.ai.inference",
        "mistral_ai",
        "cohere",
        "deepseek",
        "x_ai",
        "groq",
        "perplexity",
        "ibm.watsonx.ai",
    }
)

ALIASES: dict[str, str] = {name: name for name in CANONICAL}
ALIASES.update(
    {
        # legacy gen_ai.system values and SDK / framework spellings
        "xai": "x_ai",
        "x-ai": "x_ai",
        "grok": "x_ai",
        "vertex_ai": "gcp.vertex_ai",
        "vertexai": "gcp.vertex_ai",
        "vertex": "gcp.vertex_ai",
        "google_vertex": "gcp.vertex_ai",
        "gemini": "gcp.gemini",
        "google": "gcp.gemini",
        "google_genai": "gcp.gemini",
        "google.genai": "gcp.gemini",
        "bedrock": "aws.bedrock",
        "aws_bedrock": "aws.bedrock",
        "amazon_bedrock": "aws.bedrock",
        "mistral": "mistral_ai",
        "mistralai": "mistral_ai",
        "az.ai.openai": "azure.ai.openai",
        "azure_openai": "azure.ai.openai",
        "azure": "azure.ai.openai",
        "az.ai.inference": "azure.ai.inference",
        "watsonx": "ibm.watsonx.ai",
    }
)


def canonical_provider(name: str) -> str:
    """Canonical OTel provider name; unknown providers pass through lower-cased (the fleet may use others)."""
    hit = ALIASES.get(name)
    if hit is not None:
        return hit
    key = name.strip().lower()
    return ALIASES.get(key, key)
