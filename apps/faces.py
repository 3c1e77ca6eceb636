"""Face match tab: detect faces in an uploaded or webcam photo, draw boxes and landmarks, list
each face's top-3 gallery matches with a percentage; enroll a person from a few photos.

The embedder is the one the shipped gallery was enrolled with (dlib-resnet for the 5 Celebrity
Faces demo gallery), else the first loaded. For a distance model the table shows the Euclidean
distance and a calibrated match % (the estimated probability of "same person", see
:mod:`toolkit.runtime.faces.recognizer`); :func:`explain` says so under the table.

The shipped demo gallery is shared read-only; enrolling copies it into the visitor's session
(``gr.State``), so one visitor's enrolments are never shown to another and vanish with the tab.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import gradio as gr
import numpy as np
from PIL import Image

from apps.limits import DEFAULT, LimitError, Limits
from apps.models import ModelStore
from apps.ui import guarded, image_from_payload, one_tab_app, serve_demo, unavailable

TASKS = ("face-detector", "face-embedder")
TOP = 3


def embedder_for(store: ModelStore, gallery: Any = None) -> Any:
    """The embedder that made ``gallery`` (the shipped one by default), else the first one loaded."""
    gallery = gallery if gallery is not None else store.gallery
    wanted = gallery.info.get("embedder_model") if gallery is not None else None
    for pipeline in store.by_task("face-embedder").values():
        if wanted and pipeline.manifest.model == wanted:
            return pipeline
    return store.first("face-embedder")


def headers(store: ModelStore) -> list[str]:
    embedder = embedder_for(store)
    score = "distance" if embedder is not None and embedder.metric == "euclidean" else "similarity"
    return ["face", "rank", "name", score, "match %"]


def explain(store: ModelStore) -> str:
    """What the score and the match % mean for the embedder in use (shown under the table)."""
    embedder = embedder_for(store)
    if embedder is None:
        return ""
    if embedder.metric == "euclidean":
        calibration = embedder.info.get("calibration") or {}
        return (f"**{embedder.manifest.model}**: *distance* is the Euclidean distance between face descriptors; "
                f"below {embedder.threshold:g} it is the same person, else the face is *unknown*. *match %* is the "
                "estimated probability that the face is that person (a logistic curve "
                f"with its 50 % point at {calibration.get('midpoint', embedder.threshold):g}, fitted on same/different "
                "pairs of the 5 Celebrity Faces photos); each candidate has its own figure.")
    return (f"**{embedder.manifest.model}**: *similarity* is the cosine similarity of the embeddings; *match %* "
            "shares 100 % among the top 3 candidates (a softmax), so it ranks them but is not a probability.")


def session_copy(store: ModelStore) -> Any:
    """A private, writable copy of the shipped gallery (an empty one if none was shipped)."""
    from toolkit.runtime.faces.gallery import Gallery

    shared = store.gallery
    if shared is None:
        embedder = embedder_for(store)
        return Gallery(embedder.dim, metric=embedder.metric, info={"embedder_model": embedder.manifest.model})
    mine = Gallery(shared.dim, exact_limit=shared.exact_limit, info=dict(shared.info))
    labels = np.asarray(shared.labels)
    for name in shared.names:
        mine.add(name, shared.vectors[labels == name])
    return mine


def recognizer(store: ModelStore, gallery: Any = None) -> Any:
    """A FaceRecognizer over the shared sessions and ``gallery`` (the shipped one by default)."""
    from toolkit.runtime.faces.recognizer import FaceRecognizer

    detector, embedder = store.first("face-detector"), embedder_for(store, gallery)
    if detector is None or embedder is None:
        raise LimitError("Face match: the face detector or embedder export is not available here")
    return FaceRecognizer(detector, embedder, gallery if gallery is not None else store.gallery)


def match(store: ModelStore, photo: Any, gallery: Any = None, *, limits: Limits = DEFAULT
          ) -> tuple[Image.Image, list[list[Any]], str]:
    """(photo with faces drawn, table of top-3 matches per face, one-line summary)."""
    from toolkit.runtime.faces.recognizer import draw_faces

    image = image_from_payload(photo, limits, what="photo")
    if image is None:
        raise LimitError("please upload a photo or take one with the webcam first")
    image = image.convert("RGB")
    faces_recognizer = recognizer(store, gallery)
    if len(faces_recognizer.gallery) == 0:  # nobody to match against: still show the detections
        faces = faces_recognizer.detector.detect(image)
        return (draw_faces(image, faces), [],
                f"{len(faces)} face(s) found; the gallery is empty — enroll someone below to match against.")
    found = faces_recognizer.match(image, k=TOP)
    rows = [[index, rank, m.name, round(float(m.score), 3), round(float(m.percent), 1)]
            for index, face_match in enumerate(found, 1)
            for rank, m in enumerate(face_match.matches, 1)]
    if not found:
        summary = "No face found in this photo."
    else:
        best = [fm.matches[0].name for fm in found if fm.matches]
        summary = f"{len(found)} face(s) found; best match: {', '.join(best) or 'none'}."
    return draw_faces(image, found), rows, summary


def enroll(store: ModelStore, name: str, files: list[Any] | None, gallery: Any = None,
           *, limits: Limits = DEFAULT) -> tuple[Any, str]:
    """Add ``name`` from a few photos to this session's copy of the gallery; returns (gallery, message)."""
    name = limits.name(name)
    files = [f for f in (files or []) if f is not None]
    if not files:
        raise LimitError("please add one or more photos of the person")
    if len(files) > limits.max_enroll_photos:
        raise LimitError(f"{len(files)} photos given; the limit is {limits.max_enroll_photos}")
    images = [image_from_payload(f, limits, what="photo").convert("RGB") for f in files]
    mine = session_copy(store) if gallery is None else gallery  # first enrolment: copy the shared one
    if name not in mine.names and len(mine.names) >= limits.max_gallery_people:
        raise LimitError(f"the gallery already holds {len(mine.names)} people; the limit is {limits.max_gallery_people}")
    enrolled = recognizer(store, mine).enroll(name, images)
    return mine, (f"Enrolled **{name}** from {enrolled} of {len(images)} photo(s); this session's gallery "
                  f"has {len(mine.names)} people.")


def reset(store: ModelStore) -> tuple[None, str]:
    return None, _people(store, None)


def _people(store: ModelStore, gallery: Any) -> str:
    gallery = gallery if gallery is not None else store.gallery
    names = list(gallery.names) if gallery is not None else []
    if not names:
        return "The gallery is empty: enroll someone below."
    shown = ", ".join(names[:30]) + (f" … (+{len(names) - 30})" if len(names) > 30 else "")
    return f"Gallery: {len(names)} people — {shown}"


def render(store: ModelStore, limits: Limits = DEFAULT) -> None:
    if store.first("face-detector") is None or store.first("face-embedder") is None:
        unavailable(store.missing("Face match", TASKS))
        return
    gallery = gr.State(None)  # this session's copy once it enrolls someone
    with gr.Row():
        with gr.Column():
            photo = gr.Image(label="Photo", type="filepath", image_mode=None,
                             sources=["upload", "webcam", "clipboard"], height=320, elem_id="faces-photo")
            button = gr.Button("Find faces", variant="primary", elem_id="faces-button")
        with gr.Column():
            drawn = gr.Image(label="Detected faces", type="pil", format="jpeg", elem_id="faces-drawn")
    summary = gr.Markdown(elem_id="faces-summary")
    table = gr.Dataframe(headers=headers(store), datatype=["number", "number", "str", "number", "number"],
                         label="Top-3 matches per face", interactive=False, elem_id="faces-table")
    gr.Markdown(explain(store), elem_id="faces-explain")
    people = gr.Markdown(_people(store, None))
    button.click(guarded(partial(match, store, limits=limits), picture_format="jpeg"), [photo, gallery],
                 [drawn, table, summary],
                 api_name="match", preprocess=False)

    with gr.Accordion("Enroll a person (this session only)", open=False):
        name = gr.Textbox(label="Name", max_length=limits.max_name_chars, elem_id="faces-name")
        files = gr.File(label=f"Photos (1-{limits.max_enroll_photos})", file_count="multiple",
                        file_types=["image"], type="filepath", elem_id="faces-files")
        with gr.Row():
            enroll_button = gr.Button("Enroll", elem_id="faces-enroll")
            reset_button = gr.Button("Reset to the demo gallery")
        message = gr.Markdown()
        enroll_button.click(guarded(partial(enroll, store, limits=limits)), [name, files, gallery],
                            [gallery, message], api_name="enroll").then(
            partial(_people, store), gallery, people, api_visibility="private")
        reset_button.click(partial(reset, store), None, [gallery, people], api_visibility="private")


build = one_tab_app("Face match", "## Face match\nFaces are detected, aligned, embedded and compared with a small gallery — all in onnxruntime.", render)

if __name__ == "__main__":
    raise SystemExit(serve_demo(build, "onnxkit Face match demo"))
