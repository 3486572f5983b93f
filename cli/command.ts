// What every `netconform` sub-command is: main.ts lists them, the command files implement
// them, and neither imports the other's module for it.
export interface Command {
  readonly summary: string;
  run(argv: string[]): Promise<number>;
}
