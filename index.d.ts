// Type definitions for websocket-rs (the module surface of `websocket` 1.0.35).
// The classes other than `frame` are filled in as they are implemented.
/// <reference types="node" />

export interface IConfig {
  maxReceivedFrameSize?: number;
  maxReceivedMessageSize?: number;
  [option: string]: unknown;
}

export declare class frame {
  constructor(maskBytes?: Buffer, frameHeader?: Buffer, config?: IConfig);
  fin: boolean;
  rsv1: boolean;
  rsv2: boolean;
  rsv3: boolean;
  mask: boolean | number;
  opcode: number;
  length: number;
  binaryPayload: Buffer;
  closeStatus: number;
  maskBytes: Buffer;
  frameHeader: Buffer;
  config: IConfig;
  maxReceivedFrameSize: number;
  protocolError: boolean;
  frameTooLarge: boolean;
  invalidCloseFrameLength: boolean;
  dropReason?: string;
  parseState: number;
  /** Parses as much of one frame as `bufferList` holds; true when complete or invalid. */
  addData(bufferList: { length: number; take(n: number): Buffer; advance(n: number): void }): boolean;
  throwAwayPayload(bufferList: { length: number; advance(n: number): void }): boolean;
  /** The frame's exact wire bytes; with `nullMask` a masked frame uses the key 0. */
  toBuffer(nullMask?: boolean): Buffer;
  toString(): string;
}

export declare const deprecation: {
  disableWarnings: boolean;
  deprecationWarningMap: { [name: string]: string | false };
  warn(deprecationName: string): void;
};

export declare const version: string;

type NotYet = new (...args: any[]) => never;
export declare const server: NotYet;
export declare const client: NotYet;
export declare const router: NotYet;
export declare const request: NotYet;
export declare const connection: NotYet;
export declare const w3cwebsocket: NotYet;
