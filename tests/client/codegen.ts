// graphql-codegen as a frontend team runs it: typed operations from the
// checked-in schema, with every custom scalar mapped (strictScalars refuses
// an unmapped one) and enums as string unions.
import type { CodegenConfig } from "@graphql-codegen/cli";

const config: CodegenConfig = {
  schema: "../../graphql/schema.graphql",
  documents: "operations/*.graphql",
  generates: {
    "src/generated/graphql.ts": {
      plugins: ["typescript", "typescript-operations", "typed-document-node"],
      config: {
        strictScalars: true,
        enumsAsTypes: true,
        useTypeImports: true,
        scalars: {
          UUID: "string",
          DateTime: "string",
          Date: "string",
          MinorUnits: "string",
          Currency: "string",
          JSON: "unknown",
        },
      },
    },
  },
};

export default config;
