"""Drives Keystead's Authorization with the official Python SDK (`workos`, the python-newest
lock): permissions (create, list, get, update), an environment role with permissions (create,
set, add), an organization role (create, list, add and remove a permission), resources (create
by parent id and by parent external id, get by external id, update, list), a role assignment
(assign, list), checks (by id and external id, inherited from the parent, denied), discovery
(resources for a membership, effective permissions, memberships for a resource), removal of the
assignment, and a cascading delete. Prints `ok` at the end.

The resource types `workspace` and `project` (under workspace) and an active membership exist
beforehand (resource types are a Keystead extension the SDK does not call).

Usage: authorization.py BASE_URL API_KEY CLIENT_ID ORGANIZATION_ID MEMBERSHIP_ID
"""

import sys

from workos import ConflictError, NotFoundError, UnprocessableEntityError, WorkOSClient
from workos.authorization import (
    ParentById,
    ParentResourceByExternalId,
    ParentResourceById,
    ResourceTargetByExternalId,
    ResourceTargetById,
)

BASE_URL, API_KEY, CLIENT_ID, ORG, OM = sys.argv[1:6]


def check(cond, what):
    if not cond:
        raise SystemExit(f"check failed: {what}")


def value(v):
    return getattr(v, "value", v)


workos = WorkOSClient(api_key=API_KEY, client_id=CLIENT_ID, base_url=BASE_URL)
authz = workos.authorization

edit = authz.create_permission(slug="workspace:edit", name="Edit workspaces",
                               resource_type_slug="workspace")
check(edit.id.startswith("perm_") and edit.system is False, f"permission: {edit}")
authz.create_permission(slug="project:view", name="View projects", resource_type_slug="project")
authz.create_permission(slug="billing:manage", name="Manage billing")
try:
    authz.create_permission(slug="project:view", name="Again")
    raise SystemExit("a duplicate permission was created")
except ConflictError:
    pass
page = authz.list_permissions(limit=2, order="asc")
check([p.slug for p in page.data] == ["workspace:edit", "project:view"], f"page: {page.data}")
check(authz.get_permission("billing:manage").resource_type_slug == "organization", "get")
renamed = authz.update_permission("billing:manage", name="Billing", description=None)
check(renamed.name == "Billing" and renamed.description is None, f"update: {renamed}")

role = authz.create_environment_role(slug="ws-editor", name="Workspace editor",
                                     resource_type_slug="workspace")
check(value(role.type) == "EnvironmentRole" and role.permissions == [], f"role: {role}")
role = authz.set_environment_role_permissions("ws-editor", permissions=["workspace:edit"])
role = authz.add_environment_role_permission("ws-editor", body_slug="project:view")
check(role.permissions == ["project:view", "workspace:edit"], f"role permissions: {role}")
try:
    authz.add_environment_role_permission("ws-editor", body_slug="billing:manage")
    raise SystemExit("an organization permission went to a workspace role")
except UnprocessableEntityError:
    pass
check([r.slug for r in authz.list_environment_roles().data][:2] == ["member", "admin"],
      "environment roles")

auditor = authz.create_organization_role(ORG, name="Auditor")
check(auditor.slug.startswith("org-auditor-"), f"org role: {auditor}")
auditor = authz.add_organization_role_permission(ORG, auditor.slug, body_slug="billing:manage")
check(auditor.permissions == ["billing:manage"], f"org role permission: {auditor}")
authz.remove_organization_role_permission(ORG, auditor.slug, "billing:manage")
auditor = authz.get_organization_role(ORG, auditor.slug)
check(auditor.permissions == [], f"org role without permission: {auditor}")
slugs = [r.slug for r in authz.list_organization_roles(ORG).data]
check(slugs[:2] == ["member", "admin"] and auditor.slug in slugs, f"org roles: {slugs}")

ws = authz.create_resource(external_id="ws-1", name="Main", resource_type_slug="workspace",
                           organization_id=ORG)
p1 = authz.create_resource(external_id="p-1", name="One", resource_type_slug="project",
                           organization_id=ORG, parent_resource=ParentResourceById(ws.id))
p2 = authz.create_resource(external_id="p-2", name="Two", resource_type_slug="project",
                           organization_id=ORG,
                           parent_resource=ParentResourceByExternalId("workspace", "ws-1"))
check(p1.parent_resource_id == ws.id and p2.parent_resource_id == ws.id, "parents")
check(authz.get_resource_by_external_id(ORG, "project", "p-2").id == p2.id, "by external id")
p2 = authz.update_resource(p2.id, name="Second")
check(p2.name == "Second", f"update resource: {p2}")
children = authz.list_resources(parent=ParentById(ws.id), order="asc")
check([r.external_id for r in children.data] == ["p-1", "p-2"], f"children: {children.data}")

assignment = authz.assign_role(OM, role_slug="ws-editor",
                               resource_target=ResourceTargetById(ws.id))
check(assignment.role.slug == "ws-editor" and assignment.resource.id == ws.id,
      f"assignment: {assignment}")
check(value(assignment.source.type) == "direct", f"source: {assignment.source}")
listed = authz.list_role_assignments(OM)
check([a.id for a in listed.data] == [assignment.id], f"assignments: {listed.data}")

allowed = authz.check(OM, permission_slug="project:view",
                      resource_target=ResourceTargetByExternalId("p-1", "project"))
check(allowed.authorized is True, "inherited from the workspace")
denied = authz.check(OM, permission_slug="billing:manage",
                     resource_target=ResourceTargetById(p1.id))
check(denied.authorized is False, "no billing")

visible = authz.list_resources_for_membership(OM, permission_slug="project:view",
                                              parent_resource=ParentResourceById(ws.id),
                                              order="asc")
check([r.id for r in visible.data] == [p1.id, p2.id], f"visible: {visible.data}")
effective = authz.list_effective_permissions(OM, p1.id, order="asc")
check(sorted(p.slug for p in effective.data) == ["project:view", "workspace:edit"],
      f"effective: {effective.data}")
holders = authz.list_memberships_for_resource(p1.id, permission_slug="project:view")
check([m.id for m in holders.data] == [OM], f"holders: {holders.data}")
direct = authz.list_memberships_for_resource(p1.id, permission_slug="project:view",
                                             assignment="direct")
check(direct.data == [], f"no direct assignment on the project: {direct.data}")

authz.remove_role(OM, role_slug="ws-editor", resource_target=ResourceTargetById(ws.id))
gone = authz.check(OM, permission_slug="project:view",
                   resource_target=ResourceTargetById(p1.id))
check(gone.authorized is False, "the assignment was removed")

authz.delete_resource(ws.id, cascade_delete=True)
try:
    authz.get_resource(p1.id)
    raise SystemExit("a child survived the cascading delete")
except NotFoundError:
    pass
print("ok")
