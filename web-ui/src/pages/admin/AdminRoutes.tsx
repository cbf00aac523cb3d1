// The administration pages, one chunk loaded on first use (React.lazy in App): users see none of it.
import type { ReactNode } from "react";
import { Route, Routes } from "react-router";
import { ApprovalsPage } from "./ApprovalsPage";
import { AuditPage } from "./AuditPage";
import { JobsPage } from "./JobsPage";
import { KeysAdminPage } from "./KeysAdminPage";
import { ModelsAdminPage } from "./ModelsAdminPage";
import { SettingsPage } from "./SettingsPage";
import { UserDetailPage } from "./UserDetailPage";
import { UsersPage } from "./UsersPage";

export default function AdminRoutes({ notFound }: { notFound: ReactNode }) {
  return (
    <Routes>
      <Route path="users" element={<UsersPage />} />
      <Route path="users/:id" element={<UserDetailPage />} />
      <Route path="approvals" element={<ApprovalsPage />} />
      <Route path="models" element={<ModelsAdminPage />} />
      <Route path="keys" element={<KeysAdminPage />} />
      <Route path="settings" element={<SettingsPage />} />
      <Route path="audit" element={<AuditPage />} />
      <Route path="jobs" element={<JobsPage />} />
      <Route path="*" element={notFound} />
    </Routes>
  );
}
