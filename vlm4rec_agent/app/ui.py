"""The page: a chat that takes photos, a gallery of explained results, and the shopper's profile.

Layout and wiring only; what each event does is in ``handlers.py``. The shopping tools are
also registered as API endpoints, which Gradio serves over MCP when asked.
"""

from __future__ import annotations

from typing import Any

import gradio as gr

from .handlers import ShopApp, describe_result
from .remote import RemoteTools, gradio_errors

EXAMPLES = [
    "show me summer t-shirts",
    "a warm jacket for winter",
    "something elegant for a wedding",
    "recommend something for me",
]
PRIVATE = {"api_visibility": "private"}
PICK = "Select a result to see why it was chosen."
# The panes show catalog and VLM text: "$$...$$" in a title is words, not a formula to typeset
# (Markdown escapes do not stop the math renderer, which runs on the page after Markdown).
NO_LATEX: list[dict[str, str | bool]] = []
# The page's own look, passed to ``launch(css=...)`` (Gradio 6 takes CSS there, not in Blocks).
CSS = """
/* The status line: one small labelled chip per part, not a sentence. */
#status ul { display: flex; flex-wrap: wrap; gap: 4px 6px; list-style: none; margin: 0; padding: 0; }
#status li {
  margin: 0; padding: 1px 8px; font-size: var(--text-sm); border: 1px solid var(--border-color-primary);
  border-radius: var(--radius-md); background: var(--background-fill-secondary);
}
/* Results: as tall as their rows, each caption under its picture, wrapped rather than cut. */
#results .grid-wrap { height: auto; min-height: 0; max-height: none; overflow-y: visible; }
#results .thumbnail-item { aspect-ratio: auto; height: 100%; display: flex; flex-direction: column; }
#results .thumbnail-item > img { aspect-ratio: 1; height: auto; }
#results .caption-label {
  position: static; flex-grow: 1; max-width: none; white-space: normal; overflow: visible; text-overflow: clip;
  overflow-wrap: anywhere; text-align: center; border: none; border-radius: 0;
}
/* A phone: one column in reading order, the results right under the chat, above the message box
   (where the eye is after sending); the results panel shows once there are results. */
@media (max-width: 767px) {
  #shop { flex-direction: column; }
  #shop > .column { display: contents; }
  #chat { order: 1; height: min(560px, 50vh) !important; }
  #result-panel { order: 2; }
  #result-panel:not(:has(#results img)) { display: none; }
  #like, #dislike, #more { padding-inline: var(--size-2); }
  #composer { order: 3; }
  #profile-panel { order: 4; }
}
"""
# On a phone new results appear between the chat and the message box, which pushes the box and
# part of them below the screen: scroll so that both are in view, or the results alone where the
# screen is too short (nothing moves when they are in view already).
SHOW_RESULTS = """() => {
  if (!window.matchMedia("(max-width: 767px)").matches) return;
  requestAnimationFrame(() => {
    const results = document.querySelector("#results"), box = document.querySelector("#message");
    if (!results || !box) return;
    const fits = box.getBoundingClientRect().bottom - results.getBoundingClientRect().top <= window.innerHeight;
    (fits ? box : results).scrollIntoView({block: "nearest"});
  });
}"""


def _photo(message: dict[str, Any] | None) -> str | None:
    files = (message or {}).get("files") or []
    if not files:
        return None
    first = files[0]
    return first.get("path") if isinstance(first, dict) else str(first)


def build_app(app: ShopApp) -> gr.Blocks:
    with gr.Blocks(title="vlm4rec shopping assistant") as demo:
        conversation = gr.State()
        saved_user = gr.BrowserState("", storage_key="vlm4rec-shopper")
        gr.Markdown(
            "# Shopping assistant\nDescribe what you want or attach a photo; like what you see; ask for recommendations."
        )
        status = gr.Markdown(elem_id="status", latex_delimiters=NO_LATEX)
        with gr.Row(elem_id="shop"):
            with gr.Column(scale=3):
                chatbot = gr.Chatbot(label="Chat", height=560, elem_id="chat", latex_delimiters=NO_LATEX)
                with gr.Column(elem_id="composer"):
                    box = gr.MultimodalTextbox(
                        file_types=["image"],
                        file_count="single",
                        sources=["upload"],
                        placeholder="e.g. show me linen summer dresses, or attach a photo and say: find something like this",
                        label="Message",
                        show_label=False,
                        elem_id="message",
                    )
                    gr.Examples([{"text": e} for e in EXAMPLES], inputs=box)
            with gr.Column(scale=2):
                with gr.Column(elem_id="result-panel"):
                    gallery = gr.Gallery(
                        label="Results",
                        columns=3,
                        height="auto",
                        fit_columns=False,
                        allow_preview=False,
                        elem_id="results",
                    )
                    selected = gr.Markdown(PICK, elem_id="selected", latex_delimiters=NO_LATEX)
                    with gr.Row():
                        like = gr.Button("♥ Like", elem_id="like", variant="primary", size="md", scale=2, min_width=0)
                        dislike = gr.Button("✕ Dislike", elem_id="dislike", size="md", scale=2, min_width=0)
                        more = gr.Button("More like this", elem_id="more", size="md", scale=3, min_width=0)
                with gr.Accordion("Your profile", open=True, elem_id="profile-panel"):
                    if app.settings.hf_login_in_effect:
                        gr.LoginButton(elem_id="hf-login")  # signed in, the profile is kept under the account
                    name = gr.Textbox(label="Your name (keeps your profile across visits)", elem_id="shopper-name")
                    profile_md = gr.Markdown(elem_id="profile", latex_delimiters=NO_LATEX)
                    liked = gr.Gallery(
                        label="Liked",
                        columns=6,
                        rows=1,
                        height=130,
                        object_fit="contain",
                        fit_columns=False,
                        allow_preview=False,
                        elem_id="liked",
                    )
                    reset = gr.Button("Reset my profile", size="sm", elem_id="reset-profile")
        timer = gr.Timer(1.0, active=app.loading)

        def status_chips() -> str:
            return "\n".join(f"- {part}" for part in app.status_parts())

        def new_results(results) -> gr.Gallery:
            """The gallery showing new results, with no picture selected (the conversation's selection
            was cleared with them)."""
            return gr.Gallery(value=app.thumbnails.gallery(results), selected_index=None)

        def on_load(saved: str, account: gr.OAuthProfile | None):
            conv = app.start(saved, account.username if account is not None else None)
            liked_items, profile_text = app.profile_view(conv)
            greeting = [{"role": "assistant", "content": app.greeting()}]
            shown = "" if conv.user_id.startswith("guest-") else conv.user_id
            return conv, greeting, status_chips(), profile_text, liked_items, shown

        def on_send(message: dict, history: list, conv, saved: str):
            conv = app.resume(conv, saved)
            text, photo = (message or {}).get("text", "").strip(), _photo(message)
            history = list(history or [])
            if text:
                history.append({"role": "user", "content": text})
            if photo:
                history.append({"role": "user", "content": {"path": photo}})
            if not text and not photo:
                yield history, gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip(), conv
                return
            history.append({"role": "assistant", "content": "…"})
            busy = gr.MultimodalTextbox(value=None, interactive=False)
            yield history, gr.skip(), gr.skip(), gr.skip(), gr.skip(), busy, conv
            shown_results = shown_profile = None  # panels are sent once, not with every streamed word
            for turn in app.reply(conv, text, photo):
                history[-1] = {"role": "assistant", "content": turn.text}
                results = choice = liked_items = profile_text = gr.skip()
                if turn.results is not None and turn.results is not shown_results:
                    shown_results = turn.results
                    results, choice = new_results(turn.results), PICK
                if turn.profile is not None and turn.profile is not shown_profile:
                    shown_profile = turn.profile
                    liked_items, profile_text = app.profile_view(conv)
                yield history, results, choice, profile_text, liked_items, gr.skip(), conv
            yield history, gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.MultimodalTextbox(interactive=True), conv

        def on_select(conv, saved: str, event: gr.SelectData):
            conv = app.resume(conv, saved)
            return app.select(conv, event.index), conv

        def on_rate(conv, saved: str, like_it: bool):
            conv = app.resume(conv, saved)
            text = gradio_errors(app.rate)(conv, like_it)
            liked_items, profile_text = app.profile_view(conv)
            return text, profile_text, liked_items

        def on_more(conv, history: list, saved: str):
            conv = app.resume(conv, saved)
            turn = gradio_errors(app.more_like_selected)(conv)
            history = [*(history or []), {"role": "assistant", "content": turn.text}]
            if turn.results is None:
                return history, gr.skip(), gr.skip(), conv
            return history, new_results(turn.results), PICK, conv

        def on_name(new_name: str, conv):
            conv = app.resume(conv, None)
            conv, remembered = gradio_errors(app.set_user)(new_name, conv)
            liked_items, profile_text = app.profile_view(conv)
            return conv, remembered, profile_text, liked_items

        def on_reset(conv, saved: str):
            conv = app.resume(conv, saved)
            app.reset_profile(conv)
            liked_items, profile_text = app.profile_view(conv)
            return profile_text, liked_items

        def on_tick():
            return status_chips(), gr.Timer(active=app.loading)

        demo.load(on_load, [saved_user], [conversation, chatbot, status, profile_md, liked, name], **PRIVATE)
        box.submit(
            on_send,
            [box, chatbot, conversation, saved_user],
            [chatbot, gallery, selected, profile_md, liked, box, conversation],
            **PRIVATE,
        )
        gallery.select(on_select, [conversation, saved_user], [selected, conversation], **PRIVATE)
        rated = [selected, profile_md, liked]
        like.click(lambda c, s: on_rate(c, s, True), [conversation, saved_user], rated, **PRIVATE)
        dislike.click(lambda c, s: on_rate(c, s, False), [conversation, saved_user], rated, **PRIVATE)
        more.click(on_more, [conversation, chatbot, saved_user], [chatbot, gallery, selected, conversation], **PRIVATE)
        name.submit(on_name, [name, conversation], [conversation, saved_user, profile_md, liked], **PRIVATE)
        reset.click(on_reset, [conversation, saved_user], [profile_md, liked], **PRIVATE)
        timer.tick(on_tick, None, [status, timer], **PRIVATE)
        gallery.change(None, None, None, js=SHOW_RESULTS, **PRIVATE)

        remote = RemoteTools(app.access, app.image_name)
        for tool in app.shop.functions():
            gr.api(remote.endpoint(tool), api_name=tool.__name__)
        gr.api(remote.endpoint(app.chat_api), api_name="chat", api_visibility="undocumented")
        gr.api(remote.endpoint(app.chat_photo_api), api_name="chat_photo", api_visibility="undocumented")
        gr.api(app.status_api, api_name="status", api_visibility="undocumented")  # for monitors and tests
    return demo


__all__ = ["CSS", "build_app", "describe_result"]
