/**
 * The daemon process's entry (daemon-process.ts starts it with an IPC
 * channel and sends it a snapshot), and with --worker one of its worker
 * processes (daemon-workers.ts). Not a command of its own.
 */
import { runDaemonProcess, runDaemonWorker } from './daemon-process.js';

if (process.argv[2] === '--worker') runDaemonWorker();
else runDaemonProcess();
