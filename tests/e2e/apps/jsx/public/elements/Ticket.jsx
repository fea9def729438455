import React, { useState } from "react";
import { Button } from "@/components/ui/button";
import { Card, CardContent, CardFooter, CardHeader, CardTitle } from "@/components/ui/card";
import { Input } from "@/components/ui/input";
import { Label } from "@/components/ui/label";
import { Select, SelectContent, SelectItem, SelectTrigger, SelectValue } from "@/components/ui/select";
import { Check } from "lucide-react";

export default function Ticket() {
  const [summary, setSummary] = useState("");
  const [priority, setPriority] = useState(props.priorities?.[0] ?? "");
  const { title } = props;

  return (
    <Card id="ticket">
      <CardHeader>
        <CardTitle>{title}</CardTitle>
      </CardHeader>
      <CardContent>
        <Label htmlFor="summary">Summary</Label>
        <Input id="summary" value={summary} onChange={(e) => setSummary(e.target.value)} />
        <Label htmlFor="priority">Priority</Label>
        <Select value={priority} onValueChange={setPriority}>
          <SelectTrigger id="priority">
            <SelectValue placeholder="Priority" />
          </SelectTrigger>
          <SelectContent>
            {props.priorities.map((p) => (
              <SelectItem key={p} value={p}>{p}</SelectItem>
            ))}
          </SelectContent>
        </Select>
      </CardContent>
      <CardFooter>
        <Button variant="outline" onClick={() => cancelElement()}>Cancel</Button>
        <Button disabled={!summary} onClick={() => submitElement({ summary, priority })}>
          <Check /> Submit
        </Button>
      </CardFooter>
    </Card>
  );
}
