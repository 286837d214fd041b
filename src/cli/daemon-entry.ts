/**
 * The daemon process's entry (daemon-process.ts starts it with an IPC
 * channel and sends it a snapshot). Not a command of its own.
 */
import { runDaemonProcess } from './daemon-process.js';

runDaemonProcess();
