// Users for administrators and auditors: search by name or email, filter by role and status; each opens
// its page with roles, suspension, keys and subscriptions.
import { useState } from "react";
import { Link } from "react-router";
import {
  FormSelect,
  FormSelectOption,
  Label,
  LabelGroup,
  PageSection,
  SearchInput,
  Toolbar,
  ToolbarContent,
  ToolbarItem,
} from "@patternfly/react-core";
import { Table, Tbody, Td, Th, Thead, Tr } from "@patternfly/react-table";
import { allItems, useAdminUsers, type Role, type UserStatus as UserStatusValue } from "../../api/admin";
import { apiEnums } from "../../api/enums";

const ROLE_LABELS: Record<Role, string> = { admin: "Administrators", auditor: "Auditors", user: "Users" };
import { Empty, Loading, ProblemView } from "../../components/States";
import { formatDate } from "../../format";
import { LoadMore, PageHeader } from "./shared";

export function RoleLabels({ roles }: { roles: string[] }) {
  return (
    <LabelGroup>
      {roles.map((r) => (
        <Label key={r} isCompact color={r === "admin" ? "purple" : r === "auditor" ? "blue" : "grey"}>
          {r}
        </Label>
      ))}
    </LabelGroup>
  );
}

export function UserStatus({ status }: { status: string }) {
  return <Label color={status === "active" ? "green" : "red"}>{status}</Label>;
}

export function UsersPage() {
  const [search, setSearch] = useState("");
  const [q, setQ] = useState("");
  const [role, setRole] = useState<Role | "">("");
  const [status, setStatus] = useState<UserStatusValue | "">("");
  const users = useAdminUsers({ q, role: role || undefined, status: status || undefined });
  const items = allItems(users.data?.pages);

  return (
    <>
      <PageHeader title="Users">Everyone who has signed in to keyport, with their roles and status.</PageHeader>
      <PageSection>
        <Toolbar>
          <ToolbarContent>
            <ToolbarItem>
              <SearchInput
                aria-label="Search users"
                placeholder="Username, email or name"
                value={search}
                onChange={(_e, v) => setSearch(v)}
                onSearch={(_e, v) => setQ(v.trim().slice(0, 100))}
                onClear={() => {
                  setSearch("");
                  setQ("");
                }}
              />
            </ToolbarItem>
            <ToolbarItem>
              <FormSelect aria-label="Role" value={role} onChange={(_e, v) => setRole(v as Role | "")}>
                <FormSelectOption value="" label="Any role" />
                {apiEnums.AdminUserDto.roles.map((r) => (
                  <FormSelectOption key={r} value={r} label={ROLE_LABELS[r]} />
                ))}
              </FormSelect>
            </ToolbarItem>
            <ToolbarItem>
              <FormSelect aria-label="Status" value={status} onChange={(_e, v) => setStatus(v as UserStatusValue | "")}>
                <FormSelectOption value="" label="Any status" />
                {apiEnums.AdminUserDto.status.map((s) => (
                  <FormSelectOption key={s} value={s} label={s.charAt(0).toUpperCase() + s.slice(1)} />
                ))}
              </FormSelect>
            </ToolbarItem>
          </ToolbarContent>
        </Toolbar>
        {users.isPending ? (
          <Loading what="the users" />
        ) : users.isError ? (
          <ProblemView error={users.error} what="the users" onRetry={() => users.refetch()} />
        ) : items.length === 0 ? (
          <Empty title="No users found">{q || role || status ? "Nobody matches these filters." : "Nobody has signed in yet."}</Empty>
        ) : (
          <>
            <Table aria-label="Users" variant="compact">
              <Thead>
                <Tr>
                  <Th>Username</Th>
                  <Th>Name</Th>
                  <Th>Email</Th>
                  <Th>Roles</Th>
                  <Th>Status</Th>
                  <Th>Since</Th>
                </Tr>
              </Thead>
              <Tbody>
                {items.map((u) => (
                  <Tr key={u.id}>
                    <Td dataLabel="Username">
                      <Link to={`/admin/users/${u.id}`}>{u.username}</Link>
                    </Td>
                    <Td dataLabel="Name">{u.display_name ?? "—"}</Td>
                    <Td dataLabel="Email">{u.email ?? "—"}</Td>
                    <Td dataLabel="Roles">
                      <RoleLabels roles={u.roles} />
                    </Td>
                    <Td dataLabel="Status">
                      <UserStatus status={u.status} />
                    </Td>
                    <Td dataLabel="Since">{formatDate(u.created_at)}</Td>
                  </Tr>
                ))}
              </Tbody>
            </Table>
            <LoadMore query={users} />
          </>
        )}
      </PageSection>
    </>
  );
}
