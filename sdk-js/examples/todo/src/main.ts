// Example to-do app: a synced Dexie table rendered with liveQuery.
// Configure with query parameters: ?key=<API key>&sync=<sync URL>&db=<name>.
import { liveQuery, type EntityTable } from "dexie";
import { WebHostClient } from "@webhost.systems/client";

interface Todo {
  id: string;
  text: string;
  done: boolean;
  createdAt: number;
}

const params = new URLSearchParams(location.search);
const apiKey = params.get("key") ?? "";
const syncUrl = params.get("sync") ?? location.origin;

const client = new WebHostClient({ apiUrl: syncUrl, syncUrl, apiKey });
const { db, status } = client.connect<{ todos: EntityTable<Todo, "id"> }>(
  { todos: "@id, createdAt" },
  { dbName: params.get("db") ?? "todo" },
);

const list = document.querySelector<HTMLUListElement>("#list")!;
const form = document.querySelector<HTMLFormElement>("#add")!;
const input = document.querySelector<HTMLInputElement>("#text")!;
const statusLine = document.querySelector<HTMLParagraphElement>("#status")!;

form.addEventListener("submit", (ev) => {
  ev.preventDefault();
  const text = input.value.trim();
  if (!text) return;
  input.value = "";
  void db.todos.add({ text, done: false, createdAt: Date.now() } as Todo);
});

liveQuery(() => db.todos.orderBy("createdAt").toArray()).subscribe((todos) => {
  list.replaceChildren(
    ...todos.map((t) => {
      const li = document.createElement("li");
      li.dataset.id = t.id;
      li.className = t.done ? "done" : "";
      const box = document.createElement("input");
      box.type = "checkbox";
      box.checked = t.done;
      box.addEventListener("change", () => void db.todos.update(t.id, { done: box.checked }));
      const label = document.createElement("span");
      label.textContent = t.text;
      const del = document.createElement("button");
      del.textContent = "×";
      del.title = "Delete";
      del.addEventListener("click", () => void db.todos.delete(t.id));
      li.append(box, label, del);
      return li;
    }),
  );
});

status.subscribe((s) => {
  statusLine.dataset.phase = s.phase;
  statusLine.dataset.pending = String(s.pending);
  statusLine.textContent = s.error && s.phase === "error" ? `${s.phase}: ${s.error.message}` : `${s.phase}, ${s.pending} pending`;
});
