// The portal's frame: masthead with the signed-in user, navigation, the development-login banner.
import { useState, type ReactNode } from "react";
import { NavLink, useLocation } from "react-router";
import { useQueryClient } from "@tanstack/react-query";
import {
  Banner,
  Button,
  Flex,
  FlexItem,
  Label,
  Masthead,
  MastheadBrand,
  MastheadContent,
  MastheadLogo,
  MastheadMain,
  MastheadToggle,
  Nav,
  NavGroup,
  NavItem,
  NavList,
  Page,
  PageSidebar,
  PageSidebarBody,
  PageToggleButton,
  SkipToContent,
} from "@patternfly/react-core";
import { BarsIcon } from "@patternfly/react-icons";
import type { PublicConfig } from "../api/client";
import { canOversee, isAdmin, logout, type Me } from "../api/auth";
import { keys } from "../api/queries";
import { ProblemAlert } from "./States";

const MAIN_ID = "main-content";

/** The administration pages (admins; auditors read-only), in the navigation's order. */
export const ADMIN_LINKS: [string, string][] = [
  ["/admin/users", "Users"],
  ["/admin/approvals", "Approvals"],
  ["/admin/models", "Models"],
  ["/admin/keys", "All keys"],
  ["/admin/settings", "Settings"],
  ["/admin/audit", "Audit log"],
  ["/admin/jobs", "Jobs"],
];

export function DevLoginBanner() {
  return (
    <Banner status="warning" screenReaderText="Warning banner">
      Development login is enabled: anyone can sign in as any user and role. Never enable it in production.
    </Banner>
  );
}

function Link({ to, children }: { to: string; children: ReactNode }) {
  const location = useLocation();
  const active = location.pathname === to || location.pathname.startsWith(`${to}/`);
  return (
    <NavItem isActive={active}>
      <NavLink to={to} aria-current={active ? "page" : undefined}>
        {children}
      </NavLink>
    </NavItem>
  );
}

export function Layout({ me, config, children }: { me: Me; config: PublicConfig; children: ReactNode }) {
  const client = useQueryClient();
  const [sidebarOpen, setSidebarOpen] = useState(true);
  const [logoutError, setLogoutError] = useState<unknown>(null);
  const role = isAdmin(me) ? "admin" : canOversee(me) ? "auditor" : null;

  async function signOut() {
    setLogoutError(null);
    try {
      const next = await logout();
      client.setQueryData(keys.me, null);
      client.removeQueries({ predicate: (q) => q.queryKey[0] !== "config" && q.queryKey[0] !== "me" });
      if (next) window.location.assign(next);
    } catch (e) {
      setLogoutError(e);
    }
  }

  const masthead = (
    <Masthead>
      <MastheadMain>
        <MastheadToggle>
          <PageToggleButton
            isHamburgerButton
            isSidebarOpen={sidebarOpen}
            onSidebarToggle={() => setSidebarOpen((open) => !open)}
            aria-label="Navigation"
          >
            <BarsIcon />
          </PageToggleButton>
        </MastheadToggle>
        <MastheadBrand>
          <MastheadLogo href="/models" aria-label="keyport home">
            <strong style={{ fontSize: "1.25rem", color: "var(--pf-t--global--text--color--regular)" }}>
              keyport
            </strong>
          </MastheadLogo>
        </MastheadBrand>
      </MastheadMain>
      <MastheadContent>
        <Flex
          alignItems={{ default: "alignItemsCenter" }}
          justifyContent={{ default: "justifyContentFlexEnd" }}
          style={{ width: "100%" }}
        >
          <FlexItem>
            <span data-testid="signed-in-as">
              {me.user.display_name || me.user.username}
            </span>{" "}
            {role && <Label color={role === "admin" ? "purple" : "blue"}>{role}</Label>}
          </FlexItem>
          <FlexItem>
            <Button variant="secondary" onClick={signOut}>
              Sign out
            </Button>
          </FlexItem>
        </Flex>
      </MastheadContent>
    </Masthead>
  );

  const sidebar = (
    <PageSidebar isSidebarOpen={sidebarOpen}>
      <PageSidebarBody>
        <Nav aria-label="keyport">
          <NavList>
            <Link to="/models">Model catalog</Link>
            <Link to="/subscriptions">My subscriptions</Link>
            <Link to="/keys">API keys</Link>
            <Link to="/tokens">Access tokens</Link>
          </NavList>
          {canOversee(me) && (
            <NavGroup title={isAdmin(me) ? "Administration" : "Oversight (read-only)"}>
              {ADMIN_LINKS.map(([to, label]) => (
                <Link key={to} to={to}>
                  {label}
                </Link>
              ))}
            </NavGroup>
          )}
        </Nav>
      </PageSidebarBody>
    </PageSidebar>
  );

  return (
    <>
      {config.dev_login && <DevLoginBanner />}
      <Page
        masthead={masthead}
        sidebar={sidebar}
        mainContainerId={MAIN_ID}
        skipToContent={<SkipToContent href={`#${MAIN_ID}`}>Skip to content</SkipToContent>}
      >
        {logoutError ? <ProblemAlert error={logoutError} title="Could not sign out" /> : null}
        {children}
      </Page>
    </>
  );
}
