"""llama.cpp's own speed on a GGUF file, for comparison with `agora models bench`.

Measures the same things the same way: one prompt of N tokens decoded in one batch,
then greedy generation of M tokens in one sequence, best of R repetitions.

    pip install llama-cpp-python   # builds llama.cpp from source for this machine
    python bench/llama_cpp_reference.py MODEL.gguf --threads 2
"""

import argparse
import time

import llama_cpp
import numpy as np

TEXT = (
    "The survey asks every respondent how appealing a weekly meal-kit service is, what a "
    "fair price per serving would be, which plan they would choose and where they would "
    "like to hear about it. "
)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--prompt-tokens", type=int, default=512)
    ap.add_argument("--generated-tokens", type=int, default=64)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    n_ctx = args.prompt_tokens + args.generated_tokens + 64
    llm = llama_cpp.Llama(
        model_path=args.model,
        n_ctx=n_ctx,
        n_batch=n_ctx,
        n_ubatch=min(n_ctx, 512),
        n_threads=args.threads,
        n_threads_batch=args.threads,
        verbose=False,
    )
    prompt = []
    while len(prompt) < args.prompt_tokens:
        prompt += llm.tokenize(TEXT.encode(), add_bos=False, special=False)
    prompt = prompt[: args.prompt_tokens]
    best_prompt = best_gen = 0.0
    for _ in range(args.repeat):
        llm.reset()
        llm._ctx.kv_cache_clear()
        start = time.perf_counter()
        llm.eval(prompt)
        prompt_s = time.perf_counter() - start
        start = time.perf_counter()
        for _ in range(args.generated_tokens):
            token = int(np.argmax(llm.scores[llm.n_tokens - 1]))
            llm.eval([token])
        gen_s = time.perf_counter() - start
        best_prompt = max(best_prompt, len(prompt) / prompt_s)
        best_gen = max(best_gen, args.generated_tokens / gen_s)
    print(
        f"llama.cpp {llama_cpp.__version__} (llama-cpp-python), {args.threads} threads, "
        f"best of {args.repeat}: prompt {len(prompt)} tokens at {best_prompt:.1f} tokens/s; "
        f"generation {args.generated_tokens} tokens at {best_gen:.1f} tokens/s"
    )


if __name__ == "__main__":
    main()
