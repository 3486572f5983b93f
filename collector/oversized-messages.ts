// Counts messages grpc-js refuses for their size. grpc-js enforces
// grpc.max_receive_message_length below the handlers (the call is ended with
// RESOURCE_EXHAUSTED and the handler only sees "cancelled"), so the refusal is observed where
// the status is sent: on the intercepted call, the only hook grpc-js offers for it.
import * as grpc from '@grpc/grpc-js';

const OVERSIZED = /^Received message (larger than max|that decompresses to a size larger than)/;

export function countOversizedMessages(onOversized: () => void): grpc.ServerInterceptor {
  return (_method, call) => {
    // The base call sends this status through its own sendStatus: wrapping the instance's
    // method sees it (a ResponderBuilder hook would see only statuses sent from above).
    const sendStatus = call.sendStatus.bind(call);
    call.sendStatus = (status: Parameters<typeof sendStatus>[0]): void => {
      if (status.code === grpc.status.RESOURCE_EXHAUSTED && OVERSIZED.test(status.details ?? '')) onOversized();
      sendStatus(status);
    };
    return new grpc.ServerInterceptingCall(call);
  };
}
