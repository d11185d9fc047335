000100* ORDER PROCESSING REPLY (ORDRPLY), ONE RECORD PER REQUEST.
000200 01  ORDER-REPLY.
000300     05  ORD-RESULT-CD        PIC X(2).
000400         88  ORD-OK               VALUE '00'.
000500         88  ORD-NOT-FOUND        VALUE '04'.
000600         88  ORD-REJECTED         VALUE '08'.
000700     05  ORD-NO               PIC 9(10).
000800     05  ORD-STATUS           PIC X(1).
000900     05  ORD-CUSTNO           PIC X(8).
001000     05  ORD-ITEM             PIC X(6).
001100     05  ORD-QTY              PIC 9(3).
001200     05  ORD-AMOUNT           PIC S9(7)V99 COMP-3.
001300     05  ORD-CCY              PIC X(3).
001400     05  ORD-DATE             PIC 9(8).
001500     05  ORD-SHIP-DATE        PIC 9(8).
001600     05  ORD-MSG              PIC X(30).
