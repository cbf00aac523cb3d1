//! What a double serves: its master key, its models and which LiteLLM release it imitates.

use serde::Serialize;

/// The LiteLLM release whose behaviour the double reproduces where releases differ
/// (docs/litellm-contract.md#release-differences).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum VersionProfile {
    /// 1.108.7: `/key/info` serves deleted keys from the archive with `status: "deleted"`, and reports
    /// `status` and `total_spend`.
    #[default]
    V1_108,
    /// 1.81: `/key/info` answers 404 for a deleted key and has neither `status` nor `total_spend`;
    /// `/key/update` ignores an explicit `null` for `tpm_limit`, `rpm_limit` and `budget_duration`
    /// (docs/litellm-contract.md#traps-seen-in-the-field).
    V1_81,
}

impl VersionProfile {
    /// What `x-litellm-version` says.
    pub fn version_string(self) -> &'static str {
        match self {
            Self::V1_108 => "1.108.7",
            Self::V1_81 => "1.81.0",
        }
    }
}

/// One public model (a `model_name` of LiteLLM's `model_list`, i.e. a model group of one deployment).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelSpec {
    /// The public name keys list in `models`; may contain `/`.
    pub name: String,
    /// `litellm_provider`, e.g. `openai`.
    pub provider: String,
    /// The upstream model without provider prefix (`litellm_params.model` is `<provider>/<this>`).
    pub upstream: String,
    /// `chat`, `embedding`, `completion`, …
    pub mode: String,
    pub input_cost_per_token: f64,
    pub output_cost_per_token: f64,
    pub max_input_tokens: Option<u64>,
    pub max_output_tokens: Option<u64>,
    pub supports_vision: bool,
    pub supports_function_calling: bool,
    pub supports_reasoning: bool,
    /// What a chat completion on this model answers.
    pub mock_response: String,
}

impl ModelSpec {
    /// A chat model with the given prices and context window, no special capabilities.
    pub fn chat(name: &str, provider: &str, input_cost: f64, output_cost: f64) -> Self {
        Self {
            name: name.to_owned(),
            provider: provider.to_owned(),
            upstream: name.to_owned(),
            mode: "chat".to_owned(),
            input_cost_per_token: input_cost,
            output_cost_per_token: output_cost,
            max_input_tokens: Some(128_000),
            max_output_tokens: Some(4_096),
            supports_vision: false,
            supports_function_calling: false,
            supports_reasoning: false,
            mock_response: format!("hi from mock {name}"),
        }
    }

    /// Whether calls on this model cost nothing (LiteLLM then skips the budget check).
    pub fn is_free(&self) -> bool {
        self.input_cost_per_token == 0.0 && self.output_cost_per_token == 0.0
    }

    /// `litellm_params.model`.
    pub fn litellm_model(&self) -> String {
        format!("{}/{}", self.provider, self.upstream)
    }
}

/// How a [`crate::LiteLlmDouble`] is set up.
#[derive(Debug, Clone)]
pub struct DoubleConfig {
    /// The proxy's master key (`general_settings.master_key`); must start with `sk-`.
    pub master_key: String,
    pub models: Vec<ModelSpec>,
    pub version: VersionProfile,
    /// The status of a budget-exceeded answer (`litellm.budget_exceeded_status_code`); 422 by default.
    pub budget_exceeded_status: u16,
    /// Address to bind; `127.0.0.1` by default.
    pub host: String,
    /// Port to bind; `None` picks a free one.
    pub port: Option<u16>,
    /// actix worker threads.
    pub workers: usize,
}

impl Default for DoubleConfig {
    fn default() -> Self {
        Self {
            master_key: "sk-double-master".to_owned(),
            models: Vec::new(),
            version: VersionProfile::V1_108,
            budget_exceeded_status: 422,
            host: "127.0.0.1".to_owned(),
            port: None,
            workers: 1,
        }
    }
}

impl DoubleConfig {
    /// The default config serving [`DoubleConfig::demo_models`].
    pub fn demo() -> Self {
        Self {
            models: Self::demo_models(),
            ..Self::default()
        }
    }

    pub fn with_master_key(mut self, key: impl Into<String>) -> Self {
        self.master_key = key.into();
        self
    }

    pub fn with_models(mut self, models: Vec<ModelSpec>) -> Self {
        self.models = models;
        self
    }

    pub fn with_version(mut self, version: VersionProfile) -> Self {
        self.version = version;
        self
    }

    /// Four models of different providers and modes, one with a `/` in its name, one free.
    pub fn demo_models() -> Vec<ModelSpec> {
        vec![
            ModelSpec {
                max_output_tokens: Some(16_384),
                supports_vision: true,
                supports_function_calling: true,
                ..ModelSpec::chat("gpt-4o-mini", "openai", 1.5e-7, 6e-7)
            },
            ModelSpec {
                upstream: "claude-3-5-sonnet-20240620".to_owned(),
                max_input_tokens: Some(200_000),
                max_output_tokens: Some(8_192),
                supports_vision: true,
                supports_function_calling: true,
                ..ModelSpec::chat("claude-3-5-sonnet", "anthropic", 3e-6, 1.5e-5)
            },
            ModelSpec {
                max_input_tokens: Some(131_072),
                ..ModelSpec::chat("meta-llama/Llama-3.1-8B-Instruct", "hosted_vllm", 0.0, 0.0)
            },
            ModelSpec {
                mode: "embedding".to_owned(),
                max_input_tokens: Some(8_191),
                max_output_tokens: None,
                ..ModelSpec::chat("text-embedding-3-small", "openai", 2e-8, 0.0)
            },
        ]
    }
}

impl ModelSpec {
    /// `model_info.id`: a stable sha256 of the deployment, as LiteLLM derives it from the config.
    pub fn model_id(&self) -> String {
        crate::hashing::hash_token(&format!("{}{}", self.name, self.litellm_model()))
    }
}
