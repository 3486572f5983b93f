// CNI configuration facts: every file in the conf dir, parsed the way runtimes do.

export interface CniFileFacts {
  readonly name: string;
  /** Raw text of the file, so checks can judge it and evidence can quote it. */
  readonly text: string;
}

export interface CniFacts {
  readonly confDir: string;
  readonly files: readonly CniFileFacts[];
  /** Plugin binaries present in the bin dir; undefined when the bin dir was not read. */
  readonly binaries?: readonly string[];
}
