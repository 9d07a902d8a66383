// API keys (the admin key only): list, create, rotate, revoke. A new secret is shown once,
// with a copy button; the gateway keeps only its digest, so it cannot be shown again.
import { copyButton, empty, errorBox, fmt, h, loading, mount, table, uid } from "../ui.js";
import { isAbort } from "../api.js";

const KEYS_API = "/api/svc/v1/keys";

function list(text) {
  return text.split(",").map((s) => s.trim()).filter(Boolean);
}

function statusOf(key, now = Date.now()) {
  if (key.revoked_at) return "revoked";
  if (key.expires_at && key.expires_at <= now) return "expired";
  return "active";
}

function statusBadge(status) {
  const kind = status === "active" ? "badge-success" : status === "revoked" ? "badge-error" : "badge-muted";
  return h("span", { class: `badge ${kind}` }, status);
}

// A modal yes/no question; resolves true when confirmed.
function confirmDialog(root, { title, message, action }) {
  return new Promise((resolve) => {
    const titleId = uid("dialog-title");
    const dialog = h("dialog", { "aria-labelledby": titleId },
      h("h2", { id: titleId }, title),
      h("p", {}, message),
      h("div", { class: "dialog-actions" },
        h("button", { type: "button", onclick: () => dialog.close("cancel") }, "Cancel"),
        h("button", { type: "button", class: "danger primary", onclick: () => dialog.close("confirm") }, action)));
    dialog.addEventListener("close", () => {
      dialog.remove();
      resolve(dialog.returnValue === "confirm");
    });
    root.append(dialog);
    dialog.showModal();
  });
}

function field(label, control, hint) {
  const hintId = hint ? uid("hint") : null;
  if (hintId) control.setAttribute("aria-describedby", hintId);
  return h("div", { class: "field" },
    h("label", { for: control.id }, label), control,
    hint ? h("span", { id: hintId, class: "hint" }, hint) : null);
}

export async function render(view) {
  const { root, api, params, signal } = view;
  let showRevoked = params.get("revoked") === "1";
  const secretArea = h("div", { "aria-live": "polite" });
  const listArea = h("div");
  const formMessage = h("div", { "aria-live": "polite" });

  function showSecret(key, verb) {
    const dismiss = h("button", { type: "button", onclick: () => secretArea.replaceChildren() }, "Done");
    secretArea.replaceChildren(h("div", { class: "secret", role: "region", "aria-label": "New secret" },
      h("strong", {}, `${verb} a key for ${key.subject} (${key.id}).`),
      " Copy the secret now: it is shown only this once.",
      h("code", { class: "secret-value" }, key.key),
      h("div", { class: "row-actions" }, copyButton(() => key.key, "Copy key"), dismiss)));
    dismiss.focus();
  }

  async function act(key, kind) {
    const rotate = kind === "rotate";
    const confirmed = await confirmDialog(root, {
      title: rotate ? "Rotate this key?" : "Revoke this key?",
      message: rotate
        ? `${key.subject} (${key.prefix}…) gets a new secret; the current one stops working now.`
        : `${key.subject} (${key.prefix}…) stops working now. This cannot be undone.`,
      action: rotate ? "Rotate" : "Revoke",
    });
    if (!confirmed) return;
    try {
      if (rotate) showSecret(await api.post(`${KEYS_API}/${encodeURIComponent(key.id)}/rotate`, undefined, { signal }), "Rotated");
      else await api.del(`${KEYS_API}/${encodeURIComponent(key.id)}`, { signal });
    } catch (err) {
      if (isAbort(err) || err.status === 401) return;
      secretArea.replaceChildren(errorBox(err));
      return;
    }
    await load();
  }

  const columns = [
    { key: "prefix", label: "Key", nowrap: true, format: (v) => h("code", {}, `${v}…`) },
    { key: "id", label: "ID", nowrap: true, format: (v) => h("code", {}, v) },
    { key: "subject", label: "Subject" },
    { key: "teams", label: "Teams", format: (v, row) => [...v, ...row.admin_teams.map((t) => `${t} (admin)`)].join(", ") },
    { key: "models", label: "Models", format: (v) => (v.length ? v.join(", ") : "all") },
    { key: "created_at", label: "Created", format: fmt.time },
    { key: "expires_at", label: "Expires", format: (v) => (v ? fmt.time(v) : "never") },
    { key: "last_used_at", label: "Last used", format: (v) => (v ? fmt.time(v) : "never") },
    { key: "status", label: "Status", format: statusBadge },
    {
      key: "actions",
      label: "Actions",
      sortable: false,
      format: (v, row) => (row.status === "revoked" ? "" : h("span", { class: "row-actions" },
        h("button", { type: "button", "aria-label": `Rotate ${row.prefix}`, onclick: () => act(row, "rotate") }, "Rotate"),
        h("button", { type: "button", class: "danger", "aria-label": `Revoke ${row.prefix}`, onclick: () => act(row, "revoke") }, "Revoke"))),
    },
  ];

  async function load() {
    listArea.replaceChildren(loading("Loading keys…"));
    let keys;
    try {
      keys = (await api.get(KEYS_API, { include_revoked: showRevoked }, { signal })).data;
    } catch (err) {
      if (isAbort(err) || err.status === 401) return;
      listArea.replaceChildren(errorBox(err));
      return;
    }
    const rows = keys.map((key) => ({ ...key, status: statusOf(key), actions: null }));
    listArea.replaceChildren(rows.length
      ? table({ columns, rows, caption: "API keys", stack: true, sort: { key: "created_at", dir: "descending" } })
      : empty(showRevoked ? "No keys yet." : "No active keys. Create one above."));
  }

  const subject = h("input", {
    id: "key-subject", type: "text", name: "subject", required: true, autocomplete: "off",
    placeholder: "user:alice@example.com",
  });
  const teams = h("input", { id: "key-teams", type: "text", name: "teams", autocomplete: "off", placeholder: "ml, search" });
  const adminTeams = h("input", { id: "key-admin-teams", type: "text", name: "admin_teams", autocomplete: "off" });
  const models = h("input", { id: "key-models", type: "text", name: "models", autocomplete: "off", placeholder: "all models" });
  const expires = h("input", { id: "key-expires", type: "datetime-local", name: "expires" });
  const createButton = h("button", { type: "submit", class: "primary" }, "Create key");

  async function create(event) {
    event.preventDefault();
    const body = { subject: subject.value.trim(), teams: list(teams.value), admin_teams: list(adminTeams.value), models: list(models.value) };
    if (expires.value) body.expires_at = new Date(expires.value).getTime();
    createButton.disabled = true;
    formMessage.replaceChildren();
    try {
      showSecret(await api.post(KEYS_API, body, { signal }), "Created");
      event.target.reset();
    } catch (err) {
      if (isAbort(err) || err.status === 401) return;
      formMessage.replaceChildren(errorBox(err));
      return;
    } finally {
      createButton.disabled = false;
    }
    await load();
  }

  const revokedToggle = h("input", {
    id: "show-revoked", type: "checkbox", checked: showRevoked,
    onchange: (e) => {
      showRevoked = e.target.checked;
      view.setParams({ revoked: showRevoked ? "1" : null });
      load();
    },
  });

  mount(root,
    h("h1", {}, "API keys"),
    h("section", { class: "panel", "aria-labelledby": "create-key-title" },
      h("h2", { id: "create-key-title" }, "Create a key"),
      h("form", { class: "key-form", onsubmit: create },
        field("Subject", subject, "user:<email> or virtualaccount:<name>"),
        field("Teams", teams, "comma-separated"),
        field("Admin of teams", adminTeams, "reads these teams' logs and metrics"),
        field("Models", models, "comma-separated account/model; empty: all"),
        field("Expires", expires, "empty: never"),
        h("div", { class: "form-actions" }, createButton)),
      formMessage),
    secretArea,
    h("div", { class: "toolbar" },
      h("h2", {}, "Keys"),
      h("span", { class: "spacer" }),
      h("label", {}, revokedToggle, " Show revoked")),
    listArea,
  );
  await load();
}
