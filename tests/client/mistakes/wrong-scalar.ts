// expect: TS2322 (money as a number, which loses digits past 2^53)
import type { AddInvoiceLineMutationVariables } from "../src/generated/graphql.js";

export const variables: AddInvoiceLineMutationVariables = {
  id: "6f1c3c0e-3a4b-4a8e-9a51-0d2f1b7c9e10",
  input: {
    lineId: "0b0c9f4e-2f5d-4b7a-8f0e-6c1d2e3f4a5b",
    description: "Tour",
    quantity: 1,
    unitPrice: 3000000000,
  },
};
