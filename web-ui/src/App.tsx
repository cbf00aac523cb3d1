// The app: who is signed in decides between the login page and the portal with its pages.
import { lazy, Suspense } from "react";
import { Navigate, Route, Routes } from "react-router";
import { PageSection, Title, Content } from "@patternfly/react-core";
import { useConfig, useMe } from "./api/queries";
import { canOversee } from "./api/auth";
import { Loading, ProblemView } from "./components/States";
import { Layout } from "./components/Layout";
import { LoginPage } from "./pages/LoginPage";
import { CatalogPage } from "./pages/CatalogPage";
import { ModelDetailPage } from "./pages/ModelDetailPage";
import { SubscriptionsPage } from "./pages/SubscriptionsPage";
import { KeysPage } from "./pages/KeysPage";
import { AccessTokensPage } from "./pages/AccessTokensPage";

// Administration is a chunk of its own, loaded when an admin or auditor first opens one of its pages.
const AdminRoutes = lazy(() => import("./pages/admin/AdminRoutes"));

export function App() {
  const config = useConfig();
  const me = useMe();

  if (me.isPending || config.isPending) return <Loading what="keyport" />;
  if (config.isError) return <ProblemView error={config.error} what="keyport's settings" onRetry={() => config.refetch()} />;
  if (me.isError) return <ProblemView error={me.error} what="your session" onRetry={() => me.refetch()} />;
  if (!me.data) return <LoginPage config={config.data} />;

  const oversee = canOversee(me.data);
  return (
    <Layout me={me.data} config={config.data}>
      <Routes>
        <Route path="/" element={<Navigate to="/models" replace />} />
        <Route path="/login" element={<Navigate to="/models" replace />} />
        <Route path="/models" element={<CatalogPage />} />
        <Route path="/models/*" element={<ModelDetailPage />} />
        <Route path="/subscriptions" element={<SubscriptionsPage />} />
        <Route path="/keys" element={<KeysPage config={config.data} />} />
        <Route path="/tokens" element={<AccessTokensPage />} />
        {oversee && (
          <Route
            path="/admin/*"
            element={
              <Suspense fallback={<Loading what="the administration pages" />}>
                <AdminRoutes notFound={<NotFound />} />
              </Suspense>
            }
          />
        )}
        <Route path="*" element={<NotFound />} />
      </Routes>
    </Layout>
  );
}

function NotFound() {
  return (
    <PageSection>
      <Title headingLevel="h1">Page not found</Title>
      <Content component="p">There is no such page in keyport (or it is for administrators).</Content>
    </PageSection>
  );
}
