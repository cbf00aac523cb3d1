// Models for administrators: whether subscribing needs approval (restricted), whether users see the model
// (hidden), its name, description and the default quota of new subscriptions. Auditors see the same, unchanged.
import { useState, type FormEvent } from "react";
import {
  Alert,
  AlertActionCloseButton,
  Button,
  Form,
  FormGroup,
  Label,
  Modal,
  ModalBody,
  ModalHeader,
  PageSection,
  Switch,
  TextArea,
} from "@patternfly/react-core";
import { Table, Tbody, Td, Th, Thead, Tr } from "@patternfly/react-table";
import type { Model } from "../../api/client";
import { useModels } from "../../api/queries";
import { useUpdateModel, type UpdateModelBody } from "../../api/admin";
import { ApiProblem } from "../../api/problem";
import { ConfirmModal } from "../../components/ConfirmModal";
import { FieldHelp, TextField } from "../../components/Fields";
import { FormFooter } from "../../components/FormFooter";
import { Empty, Loading, ProblemAlert, ProblemView } from "../../components/States";
import { formatLimits } from "../../format";
import { LimitsFields } from "../../limits/LimitsFields";
import { checkLimits, inputToLimits, limitErrorsUnder, limitsToInput } from "../../limits/limits";
import type { LimitField, LimitsInput } from "../../limits/limits";
import { PageHeader, useCanChange } from "./shared";

type Dialog = { kind: "edit"; model: Model } | { kind: "open"; model: Model } | null;

export function ModelsAdminPage() {
  const canChange = useCanChange();
  const models = useModels();
  const update = useUpdateModel();
  const [dialog, setDialog] = useState<Dialog>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [busyId, setBusyId] = useState<string | null>(null);

  function patch(model: Model, body: UpdateModelBody, done?: () => void) {
    setNotice(null);
    setBusyId(model.id);
    update.mutate(
      { id: model.id, body },
      {
        onSuccess: (answer) => {
          const approved = answer.approved_subscription_ids.length;
          setNotice(
            `${answer.model.display_name} saved.${approved ? ` ${approved} pending request${approved === 1 ? " was" : "s were"} approved.` : ""}`,
          );
          done?.();
        },
        onSettled: () => setBusyId(null),
      },
    );
  }

  return (
    <>
      <PageHeader title="Models">
        A restricted model needs an administrator's approval for each subscription; a hidden one is not in users'
        catalog. The default quota applies to new subscriptions.
      </PageHeader>
      <PageSection>
        {notice && (
          <Alert variant="success" isInline title={notice} role="status" actionClose={<AlertActionCloseButton onClose={() => setNotice(null)} />} />
        )}
        {!dialog && <ProblemAlert error={update.error} title="The model was not changed" />}
        {models.isPending ? (
          <Loading what="the models" />
        ) : models.isError ? (
          <ProblemView error={models.error} what="the models" onRetry={() => models.refetch()} />
        ) : models.data.length === 0 ? (
          <Empty title="No models yet">keyport reads the models from LiteLLM (keyport sync models).</Empty>
        ) : (
          <Table aria-label="Models" variant="compact">
            <Thead>
              <Tr>
                <Th>Model</Th>
                <Th>Provider</Th>
                <Th>Availability</Th>
                <Th>Restricted</Th>
                <Th>Hidden</Th>
                <Th>Default quota</Th>
                {canChange && <Th screenReaderText="Actions" />}
              </Tr>
            </Thead>
            <Tbody>
              {models.data.map((m) => (
                <Tr key={m.id} data-testid={`model-${m.id}`}>
                  <Td dataLabel="Model">
                    {m.display_name}
                    <br />
                    <small>
                      <code>{m.id}</code>
                    </small>
                  </Td>
                  <Td dataLabel="Provider">{m.provider ?? "—"}</Td>
                  <Td dataLabel="Availability">
                    <Label color={m.availability === "available" ? "green" : "grey"}>{m.availability}</Label>
                  </Td>
                  <Td dataLabel="Restricted">
                    {canChange ? (
                      <Switch
                        id={`restricted-${m.id}`}
                        aria-label={`Restricted: ${m.id}`}
                        isChecked={m.restricted}
                        isDisabled={busyId === m.id}
                        onChange={(_e, on) => {
                          update.reset();
                          if (on) patch(m, { restricted: true });
                          else setDialog({ kind: "open", model: m });
                        }}
                      />
                    ) : (
                      <Label color={m.restricted ? "orange" : "green"}>{m.restricted ? "restricted" : "open"}</Label>
                    )}
                  </Td>
                  <Td dataLabel="Hidden">
                    {canChange ? (
                      <Switch
                        id={`hidden-${m.id}`}
                        aria-label={`Hidden: ${m.id}`}
                        isChecked={m.hidden}
                        isDisabled={busyId === m.id}
                        onChange={(_e, on) => {
                          update.reset();
                          patch(m, { hidden: on });
                        }}
                      />
                    ) : m.hidden ? (
                      <Label color="grey">hidden</Label>
                    ) : (
                      "visible"
                    )}
                  </Td>
                  <Td dataLabel="Default quota">{formatLimits(m.default_quota)}</Td>
                  {canChange && (
                    <Td isActionCell>
                      <Button
                        variant="secondary"
                        size="sm"
                        aria-label={`Edit ${m.id}`}
                        onClick={() => {
                          update.reset();
                          setDialog({ kind: "edit", model: m });
                        }}
                      >
                        Edit
                      </Button>
                    </Td>
                  )}
                </Tr>
              ))}
            </Tbody>
          </Table>
        )}
      </PageSection>
      {dialog?.kind === "open" && (
        <ConfirmModal
          title={`Open ${dialog.model.display_name} to everybody?`}
          confirm="Open the model"
          busy={update.isPending}
          error={update.error}
          onClose={() => setDialog(null)}
          onConfirm={() => patch(dialog.model, { restricted: false }, () => setDialog(null))}
        >
          Subscribing will no longer need approval, and every pending request for this model is approved now.
        </ConfirmModal>
      )}
      {dialog?.kind === "edit" && (
        <EditModelModal
          model={dialog.model}
          busy={update.isPending}
          error={update.error}
          onClose={() => setDialog(null)}
          onSave={(body) => patch(dialog.model, body, () => setDialog(null))}
        />
      )}
    </>
  );
}

type EditErrors = { display_name?: string; description?: string; quota: Partial<Record<LimitField, string>> };

export function EditModelModal({
  model,
  busy,
  error,
  onClose,
  onSave,
}: {
  model: Model;
  busy: boolean;
  error: unknown;
  onClose: () => void;
  onSave: (body: UpdateModelBody) => void;
}) {
  const [name, setName] = useState(model.display_name);
  const [description, setDescription] = useState(model.description ?? "");
  const [quota, setQuota] = useState<LimitsInput>(limitsToInput(model.default_quota));
  const [local, setLocal] = useState<EditErrors>({ quota: {} });

  // The server's objections, on their fields.
  const problems = error instanceof ApiProblem ? error.errors : [];
  const server: EditErrors = { quota: limitErrorsUnder("default_quota", problems) };
  for (const e of problems) {
    if (e.field === "display_name") server.display_name = e.message;
    else if (e.field === "description") server.description = e.message;
  }
  const errors: EditErrors = {
    display_name: local.display_name ?? server.display_name,
    description: local.description ?? server.description,
    quota: { ...server.quota, ...local.quota },
  };

  function submit(event: FormEvent) {
    event.preventDefault();
    const next: EditErrors = { quota: checkLimits(quota) };
    const trimmed = name.trim();
    if (!trimmed) next.display_name = "Give the model a name.";
    else if ([...trimmed].length > 200) next.display_name = "At most 200 characters.";
    setLocal(next);
    if (next.display_name || Object.keys(next.quota).length > 0) return;
    const body: UpdateModelBody = {};
    if (trimmed !== model.display_name) body.display_name = trimmed;
    const text = description.trim();
    if (text !== (model.description ?? "")) body.description = text === "" ? null : text;
    const limits = inputToLimits(quota);
    if (JSON.stringify(limits) !== JSON.stringify(inputToLimits(limitsToInput(model.default_quota))))
      body.default_quota = limits;
    if (Object.keys(body).length === 0) return onClose();
    onSave(body);
  }

  return (
    <Modal isOpen variant="medium" onClose={onClose} aria-labelledby="edit-model-title">
      <ModalHeader title={`Edit ${model.id}`} labelId="edit-model-title" />
      <ModalBody>
        <Form id="edit-model-form" onSubmit={submit} noValidate>
          <TextField
            id="model-name"
            label="Display name"
            isRequired
            error={errors.display_name}
            hint="What users see in the catalog."
            value={name}
            onChange={(_e, v) => setName(v)}
          />
          <FormGroup label="Description" fieldId="model-description">
            <TextArea
              id="model-description"
              value={description}
              onChange={(_e, v) => setDescription(v)}
              validated={errors.description ? "error" : "default"}
              aria-invalid={!!errors.description}
              aria-describedby="model-description-help"
              resizeOrientation="vertical"
            />
            <FieldHelp id="model-description-help" error={errors.description} hint="Empty: no description." />
          </FormGroup>
          <LimitsFields
            idPrefix="model-quota"
            legend="Default quota of new subscriptions"
            value={quota}
            errors={errors.quota}
            onChange={(field, v) => setQuota((q) => ({ ...q, [field]: v }))}
          />
          <ProblemAlert error={error} title="The model was not changed" />
        </Form>
      </ModalBody>
      <FormFooter form="edit-model-form" busy={busy} onCancel={onClose}>
        Save
      </FormFooter>
    </Modal>
  );
}
