"""The review page's web app (Starlette): the views of :mod:`.views` as JSON, thumbnails by
row, and the actions that change labels through :class:`~.store.LabelStore`.

Routes (all behind :class:`~.guard.Guard`):

    GET  /                      the page            GET  /api/overview
    GET  /api/class?name=&page= a class             GET  /api/next       label next
    GET  /api/check             suspect labels      GET  /thumb/<row>    a thumbnail (PNG)
    POST /api/label {index, label, how}             POST /api/none {index}
    POST /api/undo                                  POST /api/classes {action, name, to}
    POST /api/propagate                             GET  /api/progress

Anything else is 404: images are addressed by their row in the run, never by a path.
"""

from __future__ import annotations

import threading
from functools import partial
from importlib import resources
from pathlib import Path

from .._optional import require
from .._runfile import RUN_FILE
from ..errors import InputError
from ..recipes.run_dir import add_audit_keys
from . import views
from .guard import Guard
from .rerun import Rerun
from .store import LabelStore
from .target import label_target
from .thumbs import Thumbnails


class Review:
    """The state the app serves: the run's last round, its labels now, thumbnails, the rerun.
    A finished rerun is picked up on the next request (the run's round changed)."""

    def __init__(self, run: str | Path):
        self.run = Path(run)
        self.rerun = Rerun(self.run)
        self._lock = threading.Lock()
        self._stamp = None
        self._load()

    def _load(self) -> None:
        self.state = views.RunState.load(self.run)
        self.store = LabelStore(self.run, label_target(self.run))
        data = self.state.record["data"]
        root = self.store.target.root
        self.thumbs = Thumbnails(
            self.run,
            self.state.names,
            root,
            data["dataset"],
            data.get("options", {}).get("data_dir"),
        )
        self._stamp = (self.run / RUN_FILE).stat().st_mtime_ns

    def current(self) -> Review:
        """Itself, with the run read again when a rerun finished since."""
        with self._lock:
            if not self.rerun.running() and (self.run / RUN_FILE).stat().st_mtime_ns != self._stamp:
                self._load()
        return self

    def propagate(self) -> None:
        """Start propagating again with the labels as they are now (refused while one runs)."""
        # every label is in the label file now (a run keeps its --labels-from rows there), which
        # the run reads itself: the recorded file must not go on top of the page's corrections
        self.rerun.start(("labels_from=none",))


def _json_view(review: Review, compute):
    """A GET endpoint: ``compute(review, request)`` as JSON; a refusal is 400 with its reason."""
    from starlette.responses import JSONResponse

    def endpoint(request):
        r = review.current()
        try:
            return JSONResponse(compute(r, request))
        except InputError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)

    return endpoint


def _action(review: Review, do):
    """A POST endpoint: ``do(review, body)`` on a JSON body; refused (409) while a rerun runs,
    except the rerun itself (which says it runs already)."""
    from starlette.responses import JSONResponse

    async def endpoint(request):
        try:
            body = await request.json()
        except ValueError:
            return JSONResponse({"error": "expected a JSON body"}, status_code=400)
        r = review.current()
        if r.rerun.running() and do is not _propagate:
            return JSONResponse(
                {"error": "propagating: labels can change again when it is done"}, status_code=409
            )
        try:
            outcome = do(r, body if isinstance(body, dict) else {})
        except InputError as exc:
            status = 409 if "running already" in str(exc) else 400
            return JSONResponse({"error": str(exc)}, status_code=status)
        return JSONResponse(outcome)

    return endpoint


def _thumb(review: Review):
    from starlette.responses import Response

    def endpoint(request):
        try:
            data = review.current().thumbs.png(int(request.path_params["row"]))
        except (IndexError, FileNotFoundError):
            return Response("not found\n", status_code=404, media_type="text/plain")
        headers = {"cache-control": "private, max-age=3600"}
        return Response(data, media_type="image/png", headers=headers)

    return endpoint


def _asset(name: str, media: str):
    """A fixed file of the page (no path from the request reaches the disk)."""
    from starlette.responses import Response

    text = resources.files(__package__).joinpath("page").joinpath(name).read_text(encoding="utf-8")
    return lambda request: Response(text, media_type=media)


def create_app(run: str | Path, token: str, host: str, port: int):
    """The ASGI app for run folder ``run``, guarded by ``token`` for ``host:port``."""
    require("starlette")  # the optional extra, with its message when missing
    from starlette.applications import Starlette
    from starlette.routing import Route

    review = Review(run)
    view, act = partial(_json_view, review), partial(_action, review)
    routes = [
        Route("/", _asset("index.html", "text/html")),
        Route("/page.js", _asset("page.js", "text/javascript")),
        Route("/page.css", _asset("page.css", "text/css")),
        Route("/api/overview", view(lambda r, q: views.overview(r.state, r.store))),
        Route("/api/class", view(_class_view)),
        Route("/api/next", view(lambda r, q: views.label_next(r.state, r.store))),
        Route("/api/check", view(lambda r, q: views.check(r.state, r.store))),
        Route("/api/progress", view(lambda r, q: r.rerun.progress())),
        Route("/thumb/{row:int}", _thumb(review)),
        Route("/api/label", act(_label), methods=["POST"]),
        Route("/api/none", act(_none), methods=["POST"]),
        Route("/api/undo", act(_undo), methods=["POST"]),
        Route("/api/classes", act(_classes), methods=["POST"]),
        Route("/api/propagate", act(_propagate), methods=["POST"]),
    ]
    hosts = {f"{host}:{port}", f"127.0.0.1:{port}", f"localhost:{port}"}
    origins = {f"http://{h}" for h in hosts}
    app = Starlette(routes=routes)
    return Guard(app, token, hosts, origins, public=("/page.js", "/page.css"))


def _class_view(r: Review, request) -> dict:
    page = request.query_params.get("page", "0")
    if not page.isdigit():
        raise InputError("page must be a whole number")
    return views.class_page(r.state, r.store, request.query_params.get("name", ""), int(page))


def _done(r: Review, outcome) -> dict:
    return {
        "entry": outcome.entry,
        "outside": outcome.outside,
        "classes": r.store.classes(),
    }


def _row(body: dict) -> int:
    index = body.get("index")
    if not isinstance(index, int) or isinstance(index, bool):
        raise InputError("index must be a row number")
    return index


def _label(r: Review, body: dict) -> dict:
    label = body.get("label")
    if not isinstance(label, str):
        raise InputError("label must be a class name")
    index = _row(body)
    outcome = r.store.set_label(index, label, str(body.get("how", "typed")))
    if views.drawn_at_random(r.state, index):  # an audit row of "Label next"
        add_audit_keys(r.state.run, [r.store.target.keys[index]])
    return _done(r, outcome)


def _none(r: Review, body: dict) -> dict:
    return _done(r, r.store.mark_out_of_scope(_row(body)))


def _undo(r: Review, body: dict) -> dict:
    return _done(r, r.store.undo())


def _classes(r: Review, body: dict) -> dict:
    what, name, to = body.get("action"), str(body.get("name", "")), str(body.get("to", ""))
    if what == "add":
        return _done(r, r.store.add_class(name))
    if what == "rename":
        return _done(r, r.store.rename_class(name, to))
    if what == "merge":
        return _done(r, r.store.merge_classes(name, to))
    raise InputError("action must be add, rename or merge")


def _propagate(r: Review, body: dict) -> dict:
    r.propagate()
    return {"started": True, "round": r.state.round}
