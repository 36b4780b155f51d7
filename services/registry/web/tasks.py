"""The work queue page: tasks for a person (braille, audio, a phone call, an interpreter, missing contact
details, a reply to a text to read), each with who it is for, what kind, when it is due and a
"Mark done" button. Server-rendered: it works without JavaScript and with the keyboard alone."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse

from services.registry import work_queue
from services.registry.web import auth
from services.registry.web.deps import need, need_form, registry_of
from services.registry.web.pages import leader_names, not_found, page, with_message

router = APIRouter()


@router.get("/manage/tasks", response_class=HTMLResponse, include_in_schema=False)
async def tasks_page(request: Request) -> Response:
    await need(request, "manager")
    registry = registry_of(request)
    async with registry.store.unit_of_work() as uow:
        open_tasks, done = await work_queue.open_and_done(uow)
    names = await leader_names(registry, [t.leader_id for t in (*open_tasks, *done)])
    return page(
        request,
        "tasks.html",
        {
            "title": "Work queue",
            "section": "tasks",
            "open_tasks": open_tasks,
            "done_tasks": done,
            "names": names,
            "kind_words": work_queue.KIND_WORDS,
            "done": request.query_params.get("done"),
        },
    )


@router.post("/manage/tasks/{task_id}/done", response_class=HTMLResponse, include_in_schema=False)
async def task_done(task_id: int, request: Request) -> Response:
    manager, _ = await need_form(request, "manager")
    registry = registry_of(request)
    async with registry.store.unit_of_work() as uow:
        try:
            task = await work_queue.mark_done(uow, task_id, manager.name, auth.actor(request))
        except work_queue.TaskNotFound as missing:
            return not_found(request, str(missing))
        await uow.commit()
    name = (await leader_names(registry, [task.leader_id]))[task.leader_id]["name"]
    what = work_queue.KIND_WORDS.get(task.kind, "Task").lower()
    return with_message("/manage/tasks", f"Marked done: {what} for {name}.")
