// expect: TS2741 (the due date an invoice needs)
import type { DraftInvoiceMutationVariables } from "../src/generated/graphql.js";

export const variables: DraftInvoiceMutationVariables = {
  id: "6f1c3c0e-3a4b-4a8e-9a51-0d2f1b7c9e10",
  input: {
    number: "INV-1",
    direction: "RECEIVABLE",
    counterpartyId: "0b0c9f4e-2f5d-4b7a-8f0e-6c1d2e3f4a5b",
    counterpartyName: "Client Ltd",
  },
};
