//! Turning chat messages into the prompt text a model was trained on.
//!
//! Each instruct model expects its own markup around messages (`<|im_start|>user ...`
//! for ChatML models, `[INST]` for others). GGUF files carry that markup as a Jinja
//! template (`tokenizer.chat_template`), the same one the model's authors publish; it
//! is rendered here with minijinja, so any model file brings its own format and
//! nothing is fetched from the network.

use minijinja::{Environment, Error, ErrorKind, context};

use crate::request::{ChatMessage, Role};

/// Why a prompt could not be rendered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    /// The file's template is not valid Jinja.
    #[error("the model's chat template does not parse: {0}")]
    Syntax(String),
    /// The template failed on these messages (it may reject a role order, for example).
    #[error("the model's chat template failed: {0}")]
    Render(String),
}

/// ChatML, for model files that carry no template of their own.
pub const CHATML: &str = "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}";

/// A model's chat template, ready to render prompts.
pub struct ChatTemplate {
    env: Environment<'static>,
    bos: String,
    eos: String,
}

impl std::fmt::Debug for ChatTemplate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChatTemplate")
            .field("bos", &self.bos)
            .field("eos", &self.eos)
            .finish_non_exhaustive()
    }
}

impl ChatTemplate {
    /// Compile `source` (Jinja, as stored in GGUF files); `bos` and `eos` are the
    /// model's special-token texts, which many templates print.
    pub fn new(source: &str, bos: &str, eos: &str) -> Result<Self, TemplateError> {
        let mut env = Environment::new();
        env.set_unknown_method_callback(python_methods);
        env.add_function(
            "raise_exception",
            |message: String| -> Result<String, Error> {
                Err(Error::new(ErrorKind::InvalidOperation, message))
            },
        );
        env.add_template_owned("chat", source.to_string())
            .map_err(|e| TemplateError::Syntax(e.to_string()))?;
        Ok(Self {
            env,
            bos: bos.to_string(),
            eos: eos.to_string(),
        })
    }

    /// The prompt for `messages`, ending where the assistant's answer begins.
    pub fn render(&self, messages: &[ChatMessage]) -> Result<String, TemplateError> {
        let messages: Vec<_> = messages
            .iter()
            .map(|m| {
                context! {
                    role => match m.role {
                        Role::System => "system",
                        Role::User => "user",
                        Role::Assistant => "assistant",
                    },
                    content => m.content.as_str(),
                }
            })
            .collect();
        let template = self
            .env
            .get_template("chat")
            .map_err(|e| TemplateError::Render(e.to_string()))?;
        template
            .render(context! {
                messages => messages,
                add_generation_prompt => true,
                bos_token => self.bos.as_str(),
                eos_token => self.eos.as_str(),
            })
            .map_err(|e| TemplateError::Render(e.to_string()))
    }
}

/// The Python string methods chat templates commonly call (`.strip()`, ...), which
/// Jinja borrows from Python and minijinja does not have.
fn python_methods(
    _state: &mut minijinja::State<'_, '_>,
    value: &minijinja::Value,
    method: &str,
    args: &[minijinja::Value],
) -> Result<minijinja::Value, Error> {
    let unknown = || Error::new(ErrorKind::UnknownMethod, format!("no method `{method}`"));
    if let Some(s) = value.as_str() {
        let arg = |i: usize| args.get(i).and_then(|a| a.as_str());
        let out: minijinja::Value = match method {
            "strip" => s.trim().into(),
            "lstrip" => s.trim_start().into(),
            "rstrip" => s.trim_end().into(),
            "upper" => s.to_uppercase().into(),
            "lower" => s.to_lowercase().into(),
            "startswith" => arg(0).is_some_and(|p| s.starts_with(p)).into(),
            "endswith" => arg(0).is_some_and(|p| s.ends_with(p)).into(),
            "split" => match arg(0) {
                Some(sep) => s.split(sep).map(str::to_string).collect::<Vec<_>>().into(),
                None => s
                    .split_whitespace()
                    .map(str::to_string)
                    .collect::<Vec<_>>()
                    .into(),
            },
            "replace" => match (arg(0), arg(1)) {
                (Some(a), Some(b)) => s.replace(a, b).into(),
                _ => return Err(unknown()),
            },
            _ => return Err(unknown()),
        };
        return Ok(out);
    }
    if method == "get" {
        let key = args.first().cloned().unwrap_or_default();
        let item = value.get_item(&key).unwrap_or_default();
        return Ok(if item.is_undefined() {
            args.get(1).cloned().unwrap_or_default()
        } else {
            item
        });
    }
    if method == "items"
        && let Ok(keys) = value.try_iter()
    {
        let pairs: Vec<minijinja::Value> = keys
            .map(|k| {
                let v = value.get_item(&k).unwrap_or_default();
                minijinja::Value::from(vec![k, v])
            })
            .collect();
        return Ok(pairs.into());
    }
    Err(unknown())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The template stored in SmolLM2-135M-Instruct's GGUF file.
    const SMOLLM2: &str = "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n' }}{% endif %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}";

    #[test]
    fn chatml_prompts_end_at_the_assistant_turn() {
        let t = ChatTemplate::new(SMOLLM2, "<|im_start|>", "<|im_end|>").unwrap();
        let prompt = t
            .render(&[ChatMessage::system("Be brief."), ChatMessage::user("Hi?")])
            .unwrap();
        assert_eq!(
            prompt,
            "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi?<|im_end|>\n<|im_start|>assistant\n"
        );
        let prompt = t.render(&[ChatMessage::user("Hi?")]).unwrap();
        assert!(prompt.starts_with("<|im_start|>system\nYou are a helpful AI assistant"));
    }

    #[test]
    fn templates_using_python_methods_and_special_tokens_render() {
        let source = "{{ bos_token }}{% for m in messages %}{% if m['role'] == 'system' %}{{ raise_exception('no system') if m['content'].strip() == 'fail' }}{% endif %}[{{ m['role'].upper() }}] {{ m['content'].strip() }}{% endfor %}{{ eos_token }}";
        let t = ChatTemplate::new(source, "<s>", "</s>").unwrap();
        let out = t
            .render(&[ChatMessage::system("  rules  "), ChatMessage::user("q ")])
            .unwrap();
        assert_eq!(out, "<s>[SYSTEM] rules[USER] q</s>");
        let err = t.render(&[ChatMessage::system("fail")]).unwrap_err();
        assert!(err.to_string().contains("no system"), "{err}");
        assert!(matches!(
            ChatTemplate::new("{% for %}", "", ""),
            Err(TemplateError::Syntax(_))
        ));
        let chatml = ChatTemplate::new(CHATML, "", "").unwrap();
        assert!(
            chatml
                .render(&[ChatMessage::user("x")])
                .unwrap()
                .ends_with("<|im_start|>assistant\n")
        );
    }
}
