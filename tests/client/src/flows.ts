// The seeds' flows as a frontend writes them against the generated types:
// everything here must compile under `tsc --strict`.
import { request, type Session } from "./client.js";
import {
  AddInvoiceLineDocument,
  AddItemDocument,
  ApproveDocument,
  ChangeItemStatusDocument,
  CompleteTaskDocument,
  ConfirmShiftDocument,
  CreateAdvanceDocument,
  CreateTaskDocument,
  DraftInvoiceDocument,
  InvoiceDocument,
  IssueInvoiceDocument,
  LedgerDocument,
  MeDocument,
  NodeDocument,
  ProductionAdvanceDocument,
  RecordFulfillmentDocument,
  RecordPaymentDocument,
  ScheduleShiftDocument,
  StartTaskDocument,
  SubmitForApprovalDocument,
  type Capability,
  type ItemStatus,
} from "./generated/graphql.js";

export async function advance(session: Session, id: string, eventId: string, itemId: string) {
  await request(session, CreateAdvanceDocument, {
    id,
    input: { eventId, code: "ADV-1", advanceType: "LOAD_IN", priority: "HIGH", currency: "EUR" },
  });
  const added = await request(session, AddItemDocument, {
    id,
    input: {
      itemId,
      name: "PA system",
      category: "TECHNICAL",
      quantityRequired: 2,
      unitCost: "1500000",
      schedule: { delivery: "2027-04-10T08:00:00Z" },
    },
    expectedVersion: 1,
  });
  const total: string | null | undefined =
    added.addItem.node?.__typename === "ProductionAdvance" ? added.addItem.node.totalCost : null;
  await request(session, SubmitForApprovalDocument, { id });
  const read = await request(session, ProductionAdvanceDocument, { id });
  const waiting: Capability | null | undefined = read.productionAdvance.awaitingCapability;
  for (const step of read.productionAdvance.approvalSteps) {
    const who: string | null | undefined = step.approvedBy;
    console.log(step.capability, who);
  }
  await request(session, ApproveDocument, { id });
  const next: ItemStatus = "CONFIRMED";
  await request(session, ChangeItemStatusDocument, { id, input: { itemId, status: next } });
  const fulfilled = await request(session, RecordFulfillmentDocument, {
    id,
    input: { itemId, stage: "DELIVERED", percentage: 100 },
  });
  return { total, waiting, version: fulfilled.recordFulfillment.version };
}

export async function invoice(session: Session, id: string, counterpartyId: string) {
  await request(session, DraftInvoiceDocument, {
    id,
    input: {
      number: "INV-1",
      direction: "RECEIVABLE",
      counterpartyId,
      counterpartyName: "Client Ltd",
      currency: "EUR",
      dueOn: "2027-01-31",
    },
  });
  await request(session, AddInvoiceLineDocument, {
    id,
    input: { lineId: crypto.randomUUID(), description: "Tour", quantity: 1, unitPrice: "3000000000" },
  });
  await request(session, IssueInvoiceDocument, { id, input: { issuedOn: "2027-01-01" } });
  const paid = await request(session, RecordPaymentDocument, {
    id,
    input: { paymentId: crypto.randomUUID(), amount: "1000000000", paidOn: "2027-01-05", method: "bank transfer" },
  });
  const read = await request(session, InvoiceDocument, { id });
  const balance: bigint = BigInt(read.invoice.balance ?? "0");
  const rows = await request(session, LedgerDocument, { first: 20 });
  const amounts: bigint[] = rows.ledger.edges.map((edge) => BigInt(edge.node.amount));
  return { position: paid.recordPayment.position, balance, amounts };
}

export async function shiftAndTask(session: Session, shift: string, task: string, memberId: string, eventId: string) {
  await request(session, ScheduleShiftDocument, {
    id: shift,
    input: { memberId, eventId, role: "Rigger", startsAt: "2027-04-10T06:00:00Z", endsAt: "2027-04-10T18:00:00Z" },
  });
  await request(session, ConfirmShiftDocument, { id: shift, expectedVersion: 1 });
  await request(session, CreateTaskDocument, { id: task, input: { title: "Rig the lights", priority: "CRITICAL" } });
  await request(session, StartTaskDocument, { id: task });
  const done = await request(session, CompleteTaskDocument, { id: task });
  const node = await request(session, NodeDocument, { id: task });
  const title = node.node?.__typename === "Task" ? node.node.title : undefined;
  const me = await request(session, MeDocument, {});
  const mayApprove = me.me.capabilities.includes("FINANCE") || me.me.role === "OWNER";
  return { version: done.completeTask.version, title, mayApprove };
}
