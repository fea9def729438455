import { useState } from "react";
import { Button } from "@/components/ui/button";
import { Input } from "@/components/ui/input";
import { Badge } from "@/components/ui/badge";
import { Plus, Send, PartyPopper } from "lucide-react";

export default function Counter() {
  const [note, setNote] = useState("");
  const [busy, setBusy] = useState(false);

  const celebrate = async () => {
    setBusy(true);
    try {
      await callAction({ name: "celebrate", payload: { count: props.count } });
    } finally {
      setBusy(false);
    }
  };

  return (
    <div id="jsx-counter" className="flex flex-col gap-2">
      <p>
        {props.label}: <span id="count">{props.count}</span>{" "}
        <Badge variant="secondary">{props.tag ?? "untagged"}</Badge>
      </p>
      <Button id="increment" onClick={() => updateElement({ ...props, count: props.count + 1 })}>
        <Plus /> Increment
      </Button>
      <Button variant="outline" disabled={busy} onClick={celebrate}>
        <PartyPopper /> Celebrate
      </Button>
      <Input aria-label="Note" value={note} onChange={(e) => setNote(e.target.value)} />
      <Button onClick={() => sendUserMessage(`Note: ${note}`)}>
        <Send /> Send note
      </Button>
      <Button variant="ghost" onClick={deleteElement}>Remove</Button>
    </div>
  );
}
