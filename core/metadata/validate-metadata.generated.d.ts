// Types for the generated validator (see tools/gen-metadata-validator.ts).
export interface GeneratedValidationError {
  instancePath: string;
  keyword: string;
  message?: string;
  params: Record<string, unknown>;
}
declare function validate(data: unknown): boolean;
declare namespace validate {
  let errors: GeneratedValidationError[] | null | undefined;
}
export default validate;
