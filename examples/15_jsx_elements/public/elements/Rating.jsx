import { useState } from "react";
import { Button } from "@/components/ui/button";
import { Label } from "@/components/ui/label";
import { Textarea } from "@/components/ui/textarea";
import { Star } from "lucide-react";

export default function Rating() {
  const [stars, setStars] = useState(0);
  const [why, setWhy] = useState("");

  return (
    <div className="flex flex-col gap-3 max-w-md">
      <p className="font-semibold">{props.label}</p>
      <div className="flex gap-1" role="group" aria-label="Stars">
        {Array.from({ length: props.max }, (_, i) => i + 1).map((n) => (
          <Button
            key={n}
            variant={n <= stars ? "default" : "outline"}
            size="icon"
            aria-label={`${n} stars`}
            aria-pressed={n <= stars}
            onClick={() => setStars(n)}
          >
            <Star />
          </Button>
        ))}
      </div>
      <Label htmlFor="why">Why?</Label>
      <Textarea id="why" value={why} onChange={(e) => setWhy(e.target.value)} />
      <div className="flex gap-2">
        <Button disabled={!stars} onClick={() => submitElement({ stars, why })}>Rate</Button>
        <Button variant="ghost" onClick={cancelElement}>Skip</Button>
      </div>
    </div>
  );
}
